"""Calibration: one shift of the log-odds, so that scores are redemption probabilities
at the rate redemptions happen now.

The ranker learns on negatively downsampled rows over many weeks: `ln(kept negative rate)`
undoes the sampling (King & Zeng), but not the base rate moving with the campaigns. So
the winner's intercept is refitted on the newest days of its training split (at their
real balance: the kept negatives weigh 1 / kept rate), which leaves its validation days
out of sample; and every daily run refits a further shift on its newest mature days, used
by the run a week later (so that the calibration reported on a week is never fitted on
it: see `pipeline/steps/evaluate.py`).
"""

from __future__ import annotations

import copy as _copy

import numpy as np

from offerrank.training.models import Ranker, sigmoid


def fit_shift(log_odds: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The δ with sum(w * sigmoid(log_odds + δ)) == sum(w * labels): the mean prediction
    equals the observed rate. Newton's method on a monotone function (a handful of
    steps); 0 when the labels hold one class (no rate to match)."""
    z = np.asarray(log_odds, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    w = np.ones_like(z) if weights is None else np.asarray(weights, dtype=np.float64)
    target = float(np.sum(w * y))
    if z.size == 0 or target <= 0 or target >= float(np.sum(w)):
        return 0.0
    delta = 0.0
    for _ in range(100):
        p = sigmoid(z + delta)
        gap = float(np.sum(w * p)) - target
        slope = float(np.sum(w * p * (1 - p)))
        if slope <= 0:
            break
        step = gap / slope
        delta -= float(np.clip(step, -5, 5))
        if abs(step) < 1e-10:
            break
    return delta


def shifted(model: Ranker, delta: float) -> Ranker:
    """A copy of `model` whose probabilities carry a further log-odds shift `delta`."""
    copy = _copy.copy(model)
    copy.log_odds_shift = model.log_odds_shift + delta
    return copy
