"""Metrics of scores read as probabilities or as a classifier: Brier, ROC, calibration."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_curve

from offerrank.monitoring.metrics_base import as_vector


def brier(labels: Any, probs: Any) -> float:
    """Brier score: mean squared difference between predicted probability and label."""
    y, p = as_vector(labels), as_vector(probs)
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
    y, s = as_vector(labels), as_vector(scores)
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
    y, p = as_vector(labels), as_vector(probs)
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


def calibration_ratio(labels: Any, probs: Any) -> float | None:
    """Mean predicted probability over the observed positive rate: 1 for calibrated
    scores, 2 when they promise twice the redemptions that happen. None without a
    positive."""
    y, p = as_vector(labels), as_vector(probs)
    if y.size == 0 or y.sum() == 0:
        return None
    return float(p.mean() / y.mean())


def expected_calibration_error(labels: Any, probs: Any, bins: int = 10) -> float | None:
    """ECE over equal-mass bins of the predicted probability (`calibration_table`): the
    mean, weighted by bin size, of |mean predicted - observed rate|. None when empty."""
    y = as_vector(labels)
    table = calibration_table(labels, probs, bins)
    if not table:
        return None
    return float(
        sum(r["count"] * abs(r["mean_predicted"] - r["observed_rate"]) for r in table) / y.size
    )
