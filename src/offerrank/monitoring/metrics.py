"""Offline evaluation of a ranking on evaluated impressions.

An evaluated impression is one (customer, offer) pair that was shown, with a mature 0/1
label (redeemed within the label window), the model's score, and the unit margin at the
offer price. Every function takes one array element per impression and groups by
customer with sorts and reductions (`np.lexsort`, `np.bincount`), never a Python loop
over customers or rows, so a million impressions take about a second.

Ranking metrics look at each customer's impressions ordered by score, best first. Ties
in score are not broken by row order (that would make a metric depend on how the rows
happen to be stored): a group of tied impressions that straddles the top-k cut-off
contributes its *expected* hits under a uniformly random order of the group, i.e.
(positives in the group) * (slots left) / (group size). A constant score therefore has
exactly the precision, recall and margin of a random ranking, and margin lift 1.

A metric that is undefined on the data (no positives, a single class) is `None`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve


def _vector(x: Any) -> np.ndarray:
    """A finite float64 vector: a NaN score or label is a bug upstream, never a value."""
    a = np.asarray(x, dtype=np.float64).ravel()
    if not np.isfinite(a).all():
        raise ValueError("metrics need finite values (found NaN or inf)")
    return a


def _codes(keys: Any) -> tuple[np.ndarray, int]:
    """Dense codes 0..G-1 in sorted key order, so results never depend on row order."""
    codes, uniques = pd.factorize(np.asarray(keys).ravel(), sort=True)
    if (codes < 0).any():
        raise ValueError("metrics need non-null ids (customer, offer, category)")
    return codes.astype(np.int64), len(uniques)


@dataclass(frozen=True)
class _Runs:
    """Impressions sorted by (group, score descending), cut into runs of tied scores.

    run_of_row[i] is the run of the i-th *sorted* row; order maps sorted rows back to the
    input. offset is the number of the group's rows ranked strictly above the run.
    """

    order: np.ndarray
    run_of_row: np.ndarray
    group: np.ndarray
    offset: np.ndarray
    size: np.ndarray
    group_size: np.ndarray
    n_groups: int


def _runs(codes: np.ndarray, n_groups: int, scores: np.ndarray) -> _Runs:
    order = np.lexsort((-scores, codes))
    g, s = codes[order], scores[order]
    n = g.size
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = g[1:] != g[:-1]
    new_run = new_group.copy()
    new_run[1:] |= s[1:] != s[:-1]
    run_start = np.flatnonzero(new_run)
    group_start = np.flatnonzero(new_group)
    first_of_group = group_start[np.cumsum(new_group) - 1]
    return _Runs(
        order=order,
        run_of_row=np.cumsum(new_run) - 1,
        group=g[run_start],
        offset=run_start - first_of_group[run_start],
        size=np.diff(np.append(run_start, n)),
        group_size=np.bincount(codes, minlength=n_groups),
        n_groups=n_groups,
    )


def _run_sum(runs: _Runs, values: np.ndarray) -> np.ndarray:
    return np.bincount(runs.run_of_row, weights=values[runs.order], minlength=runs.size.size)


def _group_aucs(runs: _Runs, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-group Mann-Whitney AUC (ties count 1/2) and a mask of groups with both classes."""
    pos_run = _run_sum(runs, labels)
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
    y, s = _vector(labels), _vector(scores)
    aucs, ok = _group_aucs(_runs(np.zeros(y.size, dtype=np.int64), 1, s), y)
    return float(aucs[0]) if ok[0] else None


def mean_per_group_auc(groups: Any, labels: Any, scores: Any) -> float | None:
    """Unweighted mean of the AUC within each group (e.g. offer) having both classes.

    Within one offer it asks whether the model picks the right customers, which the
    pooled AUC can hide behind between-offer differences in redemption rate. None when
    no group has both classes.
    """
    codes, n_groups = _codes(groups)
    aucs, ok = _group_aucs(_runs(codes, n_groups, _vector(scores)), _vector(labels))
    return float(aucs[ok].mean()) if ok.any() else None


@dataclass(frozen=True)
class _TopK:
    """Per-customer figures of the top-k of each customer's impressions."""

    hits: np.ndarray  # expected positives in the top k
    positives: np.ndarray
    margin_top: np.ndarray  # expected margin of positives in the top k
    margin_expected: np.ndarray  # the same under a random order: min(k, n)/n * total


def _top_k(runs: _Runs, labels: np.ndarray, k: int, margin: np.ndarray | None) -> _TopK:
    if k < 1:
        raise ValueError(f"k must be >= 1, not {k}")
    take = np.clip(k - runs.offset, 0, runs.size) / runs.size
    pos_run = _run_sum(runs, labels)
    m = runs.n_groups
    positives = np.bincount(runs.group, weights=pos_run, minlength=m)
    hits = np.bincount(runs.group, weights=pos_run * take, minlength=m)
    if margin is None:
        return _TopK(hits, positives, np.zeros(m), np.zeros(m))
    gain_run = _run_sum(runs, labels * margin)
    gain = np.bincount(runs.group, weights=gain_run, minlength=m)
    n = np.maximum(runs.group_size, 1)
    share = np.minimum(k, n) / n
    top = np.bincount(runs.group, weights=gain_run * take, minlength=m)
    return _TopK(hits, positives, top, share * gain)


def _prepare(customers: Any, labels: Any, scores: Any) -> tuple[_Runs, np.ndarray]:
    codes, n_customers = _codes(customers)
    y, s = _vector(labels), _vector(scores)
    if not y.size == s.size == codes.size:
        raise ValueError("customers, labels and scores must have the same length")
    return _runs(codes, n_customers, s), y


def _precision_recall(t: _TopK, k: int) -> tuple[float, float] | None:
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
    return _precision_recall(_top_k(runs, y, k, None), k)


def _lift(t: _TopK) -> float | None:
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
    return _lift(_top_k(runs, y, k, _vector(margin)))


def precision_recall_curve_at_k(
    customers: Any, labels: Any, scores: Any, ks: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ks, precision@k, recall@k) for each k in `ks`; NaN where undefined (for plots)."""
    runs, y = _prepare(customers, labels, scores)
    ks = np.asarray(ks, dtype=np.int64)
    pr = [_precision_recall(_top_k(runs, y, int(k), None), int(k)) for k in ks]
    prec = np.array([np.nan if v is None else v[0] for v in pr])
    rec = np.array([np.nan if v is None else v[1] for v in pr])
    return ks, prec, rec


def margin_lift_curve(
    customers: Any, labels: Any, scores: Any, margin: Any, ks: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(ks, margin lift@k) for each k in `ks`; NaN where undefined (for plots)."""
    runs, y = _prepare(customers, labels, scores)
    m, ks = _vector(margin), np.asarray(ks, dtype=np.int64)
    lifts = [_lift(_top_k(runs, y, int(k), m)) for k in ks]
    return ks, np.array([np.nan if v is None else v for v in lifts])


def coverage(recommended_offer_ids: Any, active_offer_ids: Any) -> float | None:
    """Share of the active offers that were recommended to at least one customer.

    Recommended offers that are not in the active set do not count. None when no offer
    is active.
    """
    active = np.unique(np.asarray(active_offer_ids).ravel())
    if active.size == 0:
        return None
    return float(np.isin(active, np.asarray(recommended_offer_ids).ravel()).mean())


def diversity(customers: Any, categories: Any) -> float | None:
    """1 - mean over customers of the share of same-category pairs in their list.

    One row per recommended (customer, offer); for a customer with n >= 2 items of which
    n_g are in category g, the same-category share is sum_g n_g (n_g - 1) / (n (n - 1)).
    Customers with fewer than 2 items are left out; None when no customer has 2.
    """
    cust, n_customers = _codes(customers)
    cat, n_categories = _codes(categories)
    if cat.size != cust.size:
        raise ValueError("customers and categories must have the same length")
    pairs, counts = np.unique(cust * max(n_categories, 1) + cat, return_counts=True)
    same = np.bincount(
        pairs // max(n_categories, 1), weights=counts * (counts - 1.0), minlength=n_customers
    )
    n = np.bincount(cust, minlength=n_customers).astype(np.float64)
    ok = n >= 2
    if not ok.any():
        return None
    return float(1.0 - np.mean(same[ok] / (n[ok] * (n[ok] - 1))))


def brier(labels: Any, probs: Any) -> float:
    """Brier score: mean squared difference between predicted probability and label."""
    y, p = _vector(labels), _vector(probs)
    if y.size == 0:
        raise ValueError("brier needs at least one impression")
    return float(np.mean((p - y) ** 2))


def roc_curve_points(
    labels: Any, scores: Any, max_points: int = 200
) -> tuple[np.ndarray, np.ndarray] | None:
    """(false positive rates, true positive rates) of the ROC curve, at most `max_points`.

    Thinned by keeping evenly spaced points of sklearn's curve, always including (0, 0)
    and (1, 1). None when only one class is present.
    """
    y, s = _vector(labels), _vector(scores)
    if y.size == 0 or y.min() == y.max():
        return None
    fpr, tpr, _ = roc_curve(y, s)
    if fpr.size > max_points:
        keep = np.unique(np.rint(np.linspace(0, fpr.size - 1, max_points)).astype(np.int64))
        fpr, tpr = fpr[keep], tpr[keep]
    return fpr, tpr


def calibration_table(labels: Any, probs: Any, bins: int = 10) -> list[dict[str, float]]:
    """Rows of a reliability plot over quantile bins of the predicted probability.

    Bin edges are the quantiles of `probs` at 0, 1/bins, ..., 1 (deduplicated); each row
    has lower, upper, count, mean_predicted and observed_rate (share of positives).
    """
    y, p = _vector(labels), _vector(probs)
    if p.size == 0:
        return []
    edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, bins + 1)))
    n_bins = max(edges.size - 1, 1)
    idx = np.searchsorted(edges[1:-1], p, side="right")
    count = np.bincount(idx, minlength=n_bins)
    pred = np.bincount(idx, weights=p, minlength=n_bins)
    obs = np.bincount(idx, weights=y, minlength=n_bins)
    upper = edges[1:] if edges.size > 1 else edges
    return [
        {
            "lower": float(edges[i]),
            "upper": float(upper[i]),
            "count": int(count[i]),
            "mean_predicted": float(pred[i] / count[i]),
            "observed_rate": float(obs[i] / count[i]),
        }
        for i in np.flatnonzero(count)
    ]


def _cluster_rows(
    order: np.ndarray, starts: np.ndarray, sizes: np.ndarray, draw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the drawn clusters, and a fresh cluster id per draw."""
    sizes_d = sizes[draw]
    ends = np.cumsum(sizes_d)
    offsets = np.repeat(starts[draw] - (ends - sizes_d), sizes_d) + np.arange(ends[-1])
    return order[offsets], np.repeat(np.arange(draw.size), sizes_d)


def _percentiles(stats: list[float | None], alpha: float) -> tuple[float, float] | None:
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
        return _percentiles(stats, alpha)
    key = np.asarray(cluster)
    codes, n_clusters = _codes(key)
    is_key = [a.shape == key.shape and np.array_equal(a, key) for a in cols]
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n_clusters)
    starts = np.cumsum(sizes) - sizes
    for _ in range(n):
        rows, ids = _cluster_rows(order, starts, sizes, rng.integers(0, n_clusters, n_clusters))
        stats.append(fn(*(ids if k else a[rows] for a, k in zip(cols, is_key, strict=True))))
    return _percentiles(stats, alpha)


_EVAL_COLUMNS = ("customer_id", "offer_id", "score", "label", "margin")
_CI_METRICS = ("auc", "precision_at_k", "recall_at_k", "margin_lift_at_k")


def _weighted_auc(runs: _Runs, y_sorted: np.ndarray, row_weight: np.ndarray) -> float | None:
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


def _customer_bootstrap(
    codes: np.ndarray, pooled: _Runs, y: np.ndarray, t: _TopK, k: int, n: int, seed: int
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


def evaluate(
    frame: pd.DataFrame, k: int, *, bootstrap: int = 200, seed: int = 0, alpha: float = 0.05
) -> dict[str, float]:
    """All offline figures of one set of evaluated impressions, for `run_metrics`.

    `frame` has customer_id, offer_id, score, label (0/1) and margin (unit margin at the
    offer price). Returns k, n_impressions, n_positives, positive_rate, auc,
    mean_offer_auc, precision_at_k, recall_at_k, margin_lift_at_k, brier (only when every
    score is a probability in [0, 1]) and, with `bootstrap` > 0, `<name>_ci_low` /
    `<name>_ci_high` for auc, precision, recall and margin lift (percentile intervals
    at level 1 - alpha over customers drawn with replacement). Undefined metrics (no
    positives, a single class) are left out rather than reported as NaN.
    """
    missing = [c for c in _EVAL_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"evaluate: missing columns {missing}")
    y, s, margin = (_vector(frame[c]) for c in ("label", "score", "margin"))
    out = {"k": float(k), "n_impressions": float(y.size), "n_positives": float(y.sum())}
    if y.size == 0:
        return out
    out["positive_rate"] = float(y.mean())
    codes, n_customers = _codes(frame["customer_id"])
    pooled = _runs(np.zeros(y.size, dtype=np.int64), 1, s)
    t = _top_k(_runs(codes, n_customers, s), y, k, margin)
    aucs, ok = _group_aucs(pooled, y)
    pr = _precision_recall(t, k)
    point = {
        "auc": float(aucs[0]) if ok[0] else None,
        "mean_offer_auc": mean_per_group_auc(frame["offer_id"], y, s),
        "precision_at_k": None if pr is None else pr[0],
        "recall_at_k": None if pr is None else pr[1],
        "margin_lift_at_k": _lift(t),
        "brier": brier(y, s) if s.min() >= 0 and s.max() <= 1 else None,
    }
    out.update({name: v for name, v in point.items() if v is not None})
    if bootstrap > 0:
        samples = _customer_bootstrap(codes, pooled, y, t, k, bootstrap, seed)
        for name, stats in samples.items():
            ci = _percentiles(stats, alpha) if name in out else None
            if ci is not None:
                out[f"{name}_ci_low"], out[f"{name}_ci_high"] = ci
    return out
