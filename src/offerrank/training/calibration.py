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
from scipy.optimize import brentq

from offerrank.training.models import Ranker, sigmoid


def fit_shift(log_odds: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The δ with sum(w * sigmoid(log_odds + δ)) == sum(w * labels): the mean prediction
    equals the observed rate. The left side grows with δ, so Brent's method on a bracket
    that holds the root finds it; 0 when the labels hold one class (no rate to match)."""
    z = np.asarray(log_odds, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    w = np.ones_like(z) if weights is None else np.asarray(weights, dtype=np.float64)
    target = float(np.sum(w * y))
    if z.size == 0 or target <= 0 or target >= float(np.sum(w)):
        return 0.0

    def gap(delta: float) -> float:
        return float(np.sum(w * sigmoid(z + delta))) - target

    lo, hi = -1.0, 1.0
    while gap(lo) > 0:
        lo *= 2
    while gap(hi) < 0:
        hi *= 2
    return float(brentq(gap, lo, hi, xtol=1e-12, rtol=4 * np.finfo(float).eps))


def shifted(model: Ranker, delta: float) -> Ranker:
    """A copy of `model` whose probabilities carry a further log-odds shift `delta`."""
    copy = _copy.copy(model)
    copy.log_odds_shift = model.log_odds_shift + delta
    return copy
