"""Per-feature contributions of every served pair, cheap enough to run on all of them.

Reasons need the contributions of each pair a customer is shown: ten per customer, about
500,000 pairs a day on the `medium` world. Logistic regression's (coefficient times
standardised value) cost nothing. LightGBM's TreeSHAP (`pred_contrib`, what `explain`
shows) costs about 0.26 ms a pair on two cores: 13 s for the `small` world's 49,500
served pairs, more than the whole daily run, and minutes on `medium`.

So for LightGBM the reasons use the path attribution (Saabas; what shap computes with
`approximate=True` and XGBoost with `approx_contribs`): walking a pair's path down each
tree, every split credits its feature with the change of the expected value (the
cover-weighted mean of the leaves below) from the node to the child taken. Like
TreeSHAP it is additive and exact in total: a pair's contributions plus the trees'
expected values (the same bias as `pred_contrib`'s) sum to its log-odds. It differs
from TreeSHAP in how it shares credit between features that interact along one path.

It is computed from each pair's leaf in every tree (`pred_leaf`, as fast as scoring) and
a table per tree of each leaf's path credits. Trees are taken in groups whose combined
tables stay small (a few thousand rows), so one gather adds up several trees at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from offerrank.training.models import LightGBMModel, Ranker

# Rows of a combined table of several trees (their leaf counts multiplied): large enough
# to add two trees of 31 leaves in one gather, small enough to stay in the CPU's cache.
GROUP_TABLE_ROWS = 4096
CHUNK_ROWS = 100_000  # pairs per pred_leaf call: bounds the leaf matrix (pairs x trees)


@dataclass(frozen=True)
class LeafTables:
    """Per tree, each leaf's path credit per feature (leaves x features), and the bias."""

    tables: tuple[np.ndarray, ...]
    expected_value: float  # the trees' expected values summed: pred_contrib's bias column


def _is_leaf(node: dict[str, Any]) -> bool:
    return "split_feature" not in node  # a one-leaf tree's root has no leaf_index either


def _expected_values(node: dict[str, Any]) -> tuple[float, float]:
    """(expected value, data count) of a node, storing each internal node's under `_ev`."""
    if _is_leaf(node):
        return float(node["leaf_value"]), float(node.get("leaf_count", 0))
    left_value, left_count = _expected_values(node["left_child"])
    right_value, right_count = _expected_values(node["right_child"])
    total = left_count + right_count
    if total > 0:
        value = (left_value * left_count + right_value * right_count) / total
    else:  # a tree without counts: weigh both sides equally
        value = (left_value + right_value) / 2
    node["_ev"] = value
    return value, total


def _credit_leaves(node: dict[str, Any], credit: np.ndarray, table: np.ndarray) -> None:
    if _is_leaf(node):
        table[node.get("leaf_index", 0)] = credit
        return
    for child in (node["left_child"], node["right_child"]):
        child_value = child["leaf_value"] if _is_leaf(child) else child["_ev"]
        passed = credit.copy()
        passed[node["split_feature"]] += child_value - node["_ev"]
        _credit_leaves(child, passed, table)


def leaf_tables(booster: lgb.Booster) -> LeafTables:
    """The path credits of every leaf of every tree, from the model's own dump."""
    dump = booster.dump_model()
    n_features = int(dump["max_feature_idx"]) + 1
    tables, expected = [], 0.0
    for tree in dump["tree_info"]:
        root = tree["tree_structure"]
        table = np.zeros((int(tree["num_leaves"]), n_features))
        if _is_leaf(root):  # a single-leaf tree: a constant, no feature credited
            expected += float(root["leaf_value"])
        else:
            expected += _expected_values(root)[0]
            _credit_leaves(root, np.zeros(n_features), table)
        tables.append(table)
    return LeafTables(tuple(tables), expected)


def _add_grouped(out: np.ndarray, tables: LeafTables, leaves: np.ndarray, cols: np.ndarray) -> None:
    """out += sum over trees of each tree's table at the pair's leaf (columns `cols`)."""
    t, n_trees = 0, len(tables.tables)
    while t < n_trees:
        combined, index = tables.tables[t][:, cols], leaves[:, t].astype(np.int64)
        t += 1
        while t < n_trees and combined.shape[0] * tables.tables[t].shape[0] <= GROUP_TABLE_ROWS:
            nxt = tables.tables[t][:, cols]
            combined = (combined[:, None, :] + nxt[None, :, :]).reshape(-1, cols.size)
            index = index * nxt.shape[0] + leaves[:, t]
            t += 1
        out += combined[index]


def path_contributions(
    booster: lgb.Booster, X: np.ndarray, cols: np.ndarray, tables: LeafTables | None = None
) -> np.ndarray:
    """Path attributions (log-odds) of the pairs X for the feature columns `cols`."""
    tables = tables or leaf_tables(booster)
    out = np.zeros((X.shape[0], cols.size))
    for lo in range(0, X.shape[0], CHUNK_ROWS):
        hi = min(lo + CHUNK_ROWS, X.shape[0])
        leaves = np.asarray(booster.predict(X[lo:hi], pred_leaf=True, num_threads=2))
        _add_grouped(out[lo:hi], tables, leaves.reshape(hi - lo, -1), cols)
    return out


def leaf_tables_of(model: Ranker) -> LeafTables | None:
    """The leaf tables of a LightGBM model (None for any other): built once a day from a
    dump of the whole model, then shared by every partition's reasons."""
    return leaf_tables(model.booster) if isinstance(model, LightGBMModel) else None


def served_contributions(
    model: Ranker, X: np.ndarray, cols: np.ndarray, tables: LeafTables | None = None
) -> np.ndarray:
    """Contributions (log-odds) of the pairs X for the feature columns `cols`, by model kind:
    the path attribution for LightGBM (from `tables` when given: `leaf_tables_of` the same
    model), coefficient x standardised value otherwise."""
    if X.shape[0] == 0:
        return np.zeros((0, cols.size))
    if isinstance(model, LightGBMModel):
        return path_contributions(model.booster, X, cols, tables)
    return np.asarray(model.contributions(X))[:, cols]
