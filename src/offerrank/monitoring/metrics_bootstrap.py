"""Bootstrap confidence intervals, drawing rows or whole customers with replacement.

`bootstrap_ci` works for any metric function; `customer_bootstrap` is the fast path
that `offline_metrics` uses for its four interval metrics, with the same draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from offerrank.monitoring.metrics_base import ScoreRuns, as_vector, customer_codes, score_runs
from offerrank.monitoring.metrics_rank import TopKHits


def _cluster_rows(
    order: np.ndarray, starts: np.ndarray, sizes: np.ndarray, draw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the drawn clusters, and a fresh cluster id per draw."""
    sizes_d = sizes[draw]
    ends = np.cumsum(sizes_d)
    offsets = np.repeat(starts[draw] - (ends - sizes_d), sizes_d) + np.arange(ends[-1])
    return order[offsets], np.repeat(np.arange(draw.size), sizes_d)


def percentile_interval(stats: list[float | None], alpha: float) -> tuple[float, float] | None:
    finite = [v for v in stats if v is not None and np.isfinite(v)]
    if not finite:
        return None
    lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_ci(
    fn: Any,
    *arrays: Any,
    n: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
    cluster: np.ndarray | None = None,
) -> tuple[float, float] | None:
    """Percentile bootstrap confidence interval of `fn(*arrays)` at level 1 - alpha.

    Without `cluster`, rows are drawn with replacement. With `cluster` (customer ids),
    whole customers are drawn with replacement, because one customer's impressions are
    not independent; an argument equal to `cluster` is replaced by a fresh id per draw, so
    a customer drawn twice counts as two customers. Resamples where `fn` is None or not
    finite are dropped; None when all are.
    """
    cols = [np.asarray(a) for a in arrays]
    rng = np.random.default_rng(seed)
    stats: list[float | None] = []
    if cluster is None:
        m = len(cols[0])
        for _ in range(n):
            idx = rng.integers(0, m, m)
            stats.append(fn(*(a[idx] for a in cols)))
        return percentile_interval(stats, alpha)
    key = np.asarray(cluster)
    codes, n_clusters = customer_codes(key)
    is_key = [a.shape == key.shape and np.array_equal(a, key) for a in cols]
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n_clusters)
    starts = np.cumsum(sizes) - sizes
    for _ in range(n):
        rows, ids = _cluster_rows(order, starts, sizes, rng.integers(0, n_clusters, n_clusters))
        stats.append(fn(*(ids if k else a[rows] for a, k in zip(cols, is_key, strict=True))))
    return percentile_interval(stats, alpha)


_CI_METRICS = ("auc", "precision_at_k", "recall_at_k", "margin_lift_at_k")


def _weighted_auc(runs: ScoreRuns, y_sorted: np.ndarray, row_weight: np.ndarray) -> float | None:
    """Pooled AUC with integer row weights (a row drawn twice counts twice)."""
    pos = np.bincount(runs.run_of_row, weights=row_weight * y_sorted, minlength=runs.size.size)
    neg = np.bincount(runs.run_of_row, weights=row_weight, minlength=runs.size.size) - pos
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos <= 0 or n_neg <= 0:
        return None
    below = n_neg - np.cumsum(neg)  # runs are in descending score order
    return float(np.sum(pos * (below + neg / 2)) / (n_pos * n_neg))


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def customer_bootstrap(
    codes: np.ndarray, pooled: ScoreRuns, y: np.ndarray, t: TopKHits, k: int, n: int, seed: int
) -> dict[str, list[float | None]]:
    """Resampled AUC, precision, recall and lift, drawing customers with replacement.

    Per-customer figures do not change when a customer is drawn, so a resample is a
    weighting of customers by how often they were drawn: O(rows) per resample, no sort.
    The draws are those of `bootstrap_ci(..., seed=seed, cluster=customers)`, so both
    give the same interval.
    """
    rng = np.random.default_rng(seed)
    n_customers = t.positives.size
    has = (t.positives > 0).astype(np.float64)
    # Rows: precision, recall, customers counted, top-k margin, expected margin. Summed
    # with a plain reduction: a BLAS dot product per resample wakes idle threads each time.
    per_customer = np.stack(
        [
            has * t.hits / k,
            has * t.hits / np.maximum(t.positives, 1),
            has,
            t.margin_top,
            t.margin_expected,
        ]
    )
    codes_sorted, y_sorted = codes[pooled.order], y[pooled.order]
    out: dict[str, list[float | None]] = {name: [] for name in _CI_METRICS}
    for _ in range(n):
        w = np.bincount(rng.integers(0, n_customers, n_customers), minlength=n_customers)
        prec, rec, counted, top, expected = (per_customer * w).sum(axis=1)
        out["auc"].append(_weighted_auc(pooled, y_sorted, w[codes_sorted].astype(np.float64)))
        out["precision_at_k"].append(_ratio(prec, counted))
        out["recall_at_k"].append(_ratio(rec, counted))
        out["margin_lift_at_k"].append(_ratio(top, expected))
    return out


def paired_auc_difference(
    customers: Any,
    labels: Any,
    a: Any,
    b: Any,
    *,
    n: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float | None, float | None] | None:
    """AUC(a) - AUC(b) on the same impressions, with a paired bootstrap interval.

    Both scores are judged on each resample of whole customers (drawn with replacement,
    as `customer_bootstrap` draws them), so the interval reflects how much the
    difference, not each AUC, varies. None when the labels have a single class; the
    interval is None when `n` is 0.
    """
    y = as_vector(labels)
    codes, n_customers = customer_codes(customers)
    pooled = np.zeros(y.size, dtype=np.int64)
    runs = [score_runs(pooled, 1, as_vector(s)) for s in (a, b)]
    ones = np.ones(y.size)
    point = [_weighted_auc(r, y[r.order], ones) for r in runs]
    if point[0] is None or point[1] is None:
        return None
    rng = np.random.default_rng(seed)
    diffs: list[float | None] = []
    for _ in range(n):
        w = np.bincount(rng.integers(0, n_customers, n_customers), minlength=n_customers)
        pair = [_weighted_auc(r, y[r.order], w[codes[r.order]].astype(np.float64)) for r in runs]
        diffs.append(None if pair[0] is None or pair[1] is None else pair[0] - pair[1])
    ci = percentile_interval(diffs, alpha) if n else None
    return point[0] - point[1], (ci[0] if ci else None), (ci[1] if ci else None)
