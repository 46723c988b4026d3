"""Ranking metrics: AUC, precision and recall at k, margin lift at k, and their curves.

Every function takes one array element per impression and groups by customer with sorts
and reductions (`np.lexsort`, `np.bincount`), never a Python loop over customers or rows.
A group of tied impressions that straddles the top-k cut-off contributes its *expected*
hits under a uniformly random order of the group, i.e. (positives in the group) *
(slots left) / (group size). A constant score therefore has exactly the precision,
recall and margin of a random ranking, and margin lift 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from offerrank.monitoring.metrics_base import (
    ScoreRuns,
    as_vector,
    customer_codes,
    run_sum,
    score_runs,
)


def group_aucs(runs: ScoreRuns, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-group Mann-Whitney AUC (ties count 1/2) and a mask of groups with both classes."""
    pos_run = run_sum(runs, labels)
    # Ascending mid-rank of every row of a run: rows strictly below it, plus (size + 1) / 2.
    below = runs.group_size[runs.group] - runs.offset - runs.size
    rank_sum = np.bincount(
        runs.group, weights=pos_run * (below + (runs.size + 1) / 2), minlength=runs.n_groups
    )
    pos = np.bincount(runs.group, weights=pos_run, minlength=runs.n_groups)
    neg = runs.group_size - pos
    ok = (pos > 0) & (neg > 0)
    aucs = np.full(runs.n_groups, np.nan)
    aucs[ok] = (rank_sum[ok] - pos[ok] * (pos[ok] + 1) / 2) / (pos[ok] * neg[ok])
    return aucs, ok


def auc(labels: Any, scores: Any) -> float | None:
    """ROC AUC: P(score of a random positive > score of a random negative), ties 1/2.

    Equal to sklearn's `roc_auc_score`; None when only one class is present.
    """
    y, s = as_vector(labels), as_vector(scores)
    aucs, ok = group_aucs(score_runs(np.zeros(y.size, dtype=np.int64), 1, s), y)
    return float(aucs[0]) if ok[0] else None


def mean_per_group_auc(groups: Any, labels: Any, scores: Any) -> float | None:
    """Unweighted mean of the AUC within each group (e.g. offer) having both classes.

    Within one offer it asks whether the model picks the right customers, which the
    pooled AUC can hide behind between-offer differences in redemption rate. None when
    no group has both classes.
    """
    codes, n_groups = customer_codes(groups)
    aucs, ok = group_aucs(score_runs(codes, n_groups, as_vector(scores)), as_vector(labels))
    return float(aucs[ok].mean()) if ok.any() else None


@dataclass(frozen=True)
class TopKHits:
    """Per-customer figures of the top-k of each customer's impressions."""

    hits: np.ndarray  # expected positives in the top k
    positives: np.ndarray
    margin_top: np.ndarray  # expected margin of positives in the top k
    margin_expected: np.ndarray  # the same under a random order: min(k, n)/n * total


def top_k_hits(runs: ScoreRuns, labels: np.ndarray, k: int, margin: np.ndarray | None) -> TopKHits:
    if k < 1:
        raise ValueError(f"k must be >= 1, not {k}")
    take = np.clip(k - runs.offset, 0, runs.size) / runs.size
    pos_run = run_sum(runs, labels)
    m = runs.n_groups
    positives = np.bincount(runs.group, weights=pos_run, minlength=m)
    hits = np.bincount(runs.group, weights=pos_run * take, minlength=m)
    if margin is None:
        return TopKHits(hits, positives, np.zeros(m), np.zeros(m))
    gain_run = run_sum(runs, labels * margin)
    gain = np.bincount(runs.group, weights=gain_run, minlength=m)
    n = np.maximum(runs.group_size, 1)
    share = np.minimum(k, n) / n
    top = np.bincount(runs.group, weights=gain_run * take, minlength=m)
    return TopKHits(hits, positives, top, share * gain)


def _prepare(customers: Any, labels: Any, scores: Any) -> tuple[ScoreRuns, np.ndarray]:
    codes, n_customers = customer_codes(customers)
    y, s = as_vector(labels), as_vector(scores)
    if not y.size == s.size == codes.size:
        raise ValueError("customers, labels and scores must have the same length")
    return score_runs(codes, n_customers, s), y


def precision_recall_of(t: TopKHits, k: int) -> tuple[float, float] | None:
    has = t.positives > 0
    if not has.any():
        return None
    return float(np.mean(t.hits[has] / k)), float(np.mean(t.hits[has] / t.positives[has]))


def precision_recall_at_k(
    customers: Any, labels: Any, scores: Any, k: int
) -> tuple[float, float] | None:
    """(precision@k, recall@k), averaged over the customers with at least one positive.

    As in recommenders-team/recommenders `python_evaluation` (and Spark's RankingMetrics):
    for customer c with P_c positives among their evaluated impressions and H_c positives
    among their k best-scored ones, precision@k = mean_c H_c / k and recall@k =
    mean_c H_c / P_c, both over the customers with P_c >= 1 only (customers with no
    positive are in neither numerator nor denominator). Precision divides by k even when
    the customer has fewer than k impressions, so its maximum can be below 1. Ties: see
    the module docstring. None when no customer has a positive.
    """
    runs, y = _prepare(customers, labels, scores)
    return precision_recall_of(top_k_hits(runs, y, k, None), k)


def lift_of(t: TopKHits) -> float | None:
    expected = float(t.margin_expected.sum())
    return float(t.margin_top.sum()) / expected if expected > 0 else None


def margin_lift_at_k(customers: Any, labels: Any, scores: Any, margin: Any, k: int) -> float | None:
    """Margin captured by each customer's top k, relative to a random order.

    Numerator: sum over customers of the margin of the redeemed impressions in their top k.
    Denominator: its expectation if each customer's impressions were ordered at random,
    sum over c of min(k, n_c) / n_c * (margin of c's redeemed impressions), n_c being c's
    number of impressions. A ratio of sums, so customers weigh by the margin at stake.
    1 = no better than random. None when the denominator is not positive (no positives,
    or redeemed margins that sum to a loss, where a ratio has no meaning).
    """
    runs, y = _prepare(customers, labels, scores)
    return lift_of(top_k_hits(runs, y, k, as_vector(margin)))


def precision_recall_curve_at_k(
    customers: Any, labels: Any, scores: Any, ks: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ks, precision@k, recall@k) for each k in `ks`; NaN where undefined (for plots)."""
    runs, y = _prepare(customers, labels, scores)
    ks = np.asarray(ks, dtype=np.int64)
    pr = [precision_recall_of(top_k_hits(runs, y, int(k), None), int(k)) for k in ks]
    prec = np.array([np.nan if v is None else v[0] for v in pr])
    rec = np.array([np.nan if v is None else v[1] for v in pr])
    return ks, prec, rec


def margin_lift_curve(
    customers: Any, labels: Any, scores: Any, margin: Any, ks: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(ks, margin lift@k) for each k in `ks`; NaN where undefined (for plots)."""
    runs, y = _prepare(customers, labels, scores)
    m, ks = as_vector(margin), np.asarray(ks, dtype=np.int64)
    lifts = [lift_of(top_k_hits(runs, y, int(k), m)) for k in ks]
    return ks, np.array([np.nan if v is None else v for v in lifts])
