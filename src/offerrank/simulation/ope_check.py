"""Check the off-policy estimators against the simulator's true values.

A `model` run with exploring serving logs, for every pool pair, its inclusion
propensity; with `record_truth` it also keeps each pool pair's true probability. The
value of any other ranking of the same pools is then known exactly (sum of its pairs'
true probabilities), and IPS / SNIPS / DR estimate it from the served pairs' drawn
outcomes only. Targets are deterministic greedy top K by probability and by expected
margin, and the stochastic uniform-random K-subset.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa

from offerrank.ranking.rank import rank_within_customer
from offerrank.simulation.loop import PolicyRun
from offerrank.simulation.ope import estimate, true_value
from offerrank.simulation.outcomes import impression_outcomes
from offerrank.simulation.summary import Interval, interval

TARGETS = ("greedy_probability", "greedy_expected_margin", "uniform_random")


def _col(t: pa.Table, name: str) -> np.ndarray:
    return t.column(name).to_numpy(zero_copy_only=False)


def logged_rewards(run: PolicyRun, pools: pa.Table) -> np.ndarray:
    """Drawn outcome (0/1) of each served pool pair; 0 elsewhere (never read there)."""
    days = pools.column("day")
    o = impression_outcomes(run.db_path, days[0].as_py(), days[-1].as_py())
    keys = (o["customer_id"].astype(np.int64) << 32) | o["offer_id"].astype(np.int64)
    want = (_col(pools, "customer_id").astype(np.int64) << 32) | _col(pools, "offer_id").astype(
        np.int64
    )
    served = _col(pools, "position") > 0
    if keys.size == 0:
        return np.zeros(want.size)
    order = np.argsort(keys)
    pos = np.minimum(np.searchsorted(keys[order], want), keys.size - 1)
    found = keys[order][pos] == want
    return np.where(found & served, o["redeemed"][order][pos], 0.0)


def target_inclusion(target: str, pools: pa.Table, groups: np.ndarray, k: int) -> np.ndarray:
    """pi1 of every pool pair under a target policy."""
    score, margin = _col(pools, "score"), _col(pools, "unit_margin")
    offer = _col(pools, "offer_id")
    if target == "uniform_random":
        _, codes, sizes = np.unique(groups, return_inverse=True, return_counts=True)
        return np.minimum(k, sizes[codes]) / sizes[codes]
    key = score if target == "greedy_probability" else score * margin
    return (rank_within_customer(groups, offer, key) <= k).astype(np.float64)


def check_run(run: PolicyRun, k: int) -> list[dict[str, object]]:
    """One row per (target, reward, estimator): estimate, truth, trust flag."""
    pools = run.pools
    day = _col(pools, "day").astype("datetime64[D]").astype(np.int64)
    groups = (day << 32) | _col(pools, "customer_id").astype(np.int64)
    pi0 = _col(pools, "inclusion")
    logged = _col(pools, "position") > 0
    p_true, q = _col(pools, "p_true"), _col(pools, "score")
    margin = _col(pools, "unit_margin")
    red = logged_rewards(run, pools)
    rows = []
    for target in TARGETS:
        pi1 = target_inclusion(target, pools, groups, k)
        for reward_name, r, qq, truth_r in (
            ("redemptions", red, q, p_true),
            ("margin", red * margin, q * margin, p_true * margin),
        ):
            truth = true_value(groups, pi1, truth_r)
            for est in estimate(groups, pi0, pi1, qq, logged, r).values():
                rows.append(
                    {
                        "seed": run.seed,
                        "target": target,
                        "reward": reward_name,
                        "estimator": est.estimator,
                        "estimate": est.value,
                        "stderr": est.stderr,
                        "truth": truth,
                        "trusted": est.trusted,
                        "reason": est.reason,
                    }
                )
    return rows


def bias_variance(rows: list[dict[str, object]]) -> dict[tuple[str, str, str], dict[str, object]]:
    """Over seeds, per (target, reward, estimator): relative error interval, bias, spread."""
    by: dict[tuple[str, str, str], list[dict[str, object]]] = defaultdict(list)
    for r in rows:
        by[(str(r["target"]), str(r["reward"]), str(r["estimator"]))].append(r)
    out = {}
    for key, rs in by.items():
        est = np.array([float(r["estimate"]) for r in rs])  # type: ignore[arg-type]
        truth = np.array([float(r["truth"]) for r in rs])  # type: ignore[arg-type]
        rel = (est - truth) / np.where(truth != 0, truth, np.nan)
        rel_i: Interval = interval(rel)
        out[key] = {
            "truth": float(truth.mean()),
            "estimate": float(est.mean()),
            "bias": float((est - truth).mean()),
            "sd": float((est - truth).std(ddof=1)) if est.size > 1 else float("nan"),
            "relative_error": rel_i,
            "trusted": all(bool(r["trusted"]) for r in rs),
        }
    return out
