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

This module holds `offline_metrics`, every figure at once. The metrics themselves live by kind:
`metrics_base` (inputs, runs of tied scores), `metrics_rank` (AUC, @k, lift, curves),
`metrics_lists` (coverage, diversity), `metrics_probability` (Brier, ROC points,
calibration) and `metrics_bootstrap` (confidence intervals); import them from there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from offerrank.monitoring.metrics_base import as_vector, customer_codes, score_runs
from offerrank.monitoring.metrics_bootstrap import customer_bootstrap, percentile_interval
from offerrank.monitoring.metrics_probability import brier
from offerrank.monitoring.metrics_rank import (
    group_aucs,
    lift_of,
    mean_per_group_auc,
    precision_recall_of,
    top_k_hits,
)

_EVAL_COLUMNS = ("customer_id", "offer_id", "score", "label", "margin")


def offline_metrics(
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
        raise ValueError(f"offline_metrics: missing columns {missing}")
    y, s, margin = (as_vector(frame[c]) for c in ("label", "score", "margin"))
    out = {"k": float(k), "n_impressions": float(y.size), "n_positives": float(y.sum())}
    if y.size == 0:
        return out
    out["positive_rate"] = float(y.mean())
    codes, n_customers = customer_codes(frame["customer_id"])
    pooled = score_runs(np.zeros(y.size, dtype=np.int64), 1, s)
    t = top_k_hits(score_runs(codes, n_customers, s), y, k, margin)
    aucs, ok = group_aucs(pooled, y)
    pr = precision_recall_of(t, k)
    point = {
        "auc": float(aucs[0]) if ok[0] else None,
        "mean_offer_auc": mean_per_group_auc(frame["offer_id"], y, s),
        "precision_at_k": None if pr is None else pr[0],
        "recall_at_k": None if pr is None else pr[1],
        "margin_lift_at_k": lift_of(t),
        "brier": brier(y, s) if s.min() >= 0 and s.max() <= 1 else None,
    }
    out.update({name: v for name, v in point.items() if v is not None})
    if bootstrap > 0:
        samples = customer_bootstrap(codes, pooled, y, t, k, bootstrap, seed)
        for name, stats in samples.items():
            ci = percentile_interval(stats, alpha) if name in out else None
            if ci is not None:
                out[f"{name}_ci_low"], out[f"{name}_ci_high"] = ci
    return out
