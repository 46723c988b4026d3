"""Per-pair explanations: which features pushed a pair's score up or down, and by how much.

Both rankers are additive in log-odds: LightGBM's TreeSHAP contributions (`pred_contrib`)
and logistic regression's coefficient times standardised value each sum, with a bias
column, to the pair's calibrated log-odds. So a pair's explanation, and the difference
between two offers of one customer, are exact decompositions, not approximations.

Every run keeps a sample of its scored pairs, stratified so that the pairs customers
actually see (ranks 1..K) are always represented (`ranking.samples`: all top-K pairs of
some customers, plus a uniform sample of the other pairs). Global importance is the mean
absolute contribution over a uniform sample of all scored pairs, so that the
over-represented top pairs do not bias it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offerrank.training.models import Ranker

UNITS = "log-odds"
TOP_STRATUM = "top"
RANDOM_STRATUM = "random"


def method_of(kind: str) -> str:
    """How a model kind's contributions are computed, in words for readers of the store."""
    if kind == "lightgbm":
        return "TreeSHAP (LightGBM pred_contrib)"
    return "coefficient x standardised value"


@dataclass(frozen=True)
class Contributions:
    """Per-feature contributions (n x features) and the bias, in log-odds.

    `per_feature.sum(axis=1) + bias` is the calibrated log-odds of each pair.
    """

    per_feature: np.ndarray
    bias: np.ndarray

    @property
    def log_odds(self) -> np.ndarray:
        return self.per_feature.sum(axis=1) + self.bias


def contributions(model: Ranker, X: np.ndarray) -> Contributions:
    """Split the model's contributions into the features' and the bias column."""
    if X.shape[0] == 0:
        return Contributions(np.zeros((0, X.shape[1])), np.zeros(0))
    full = np.asarray(model.contributions(X), dtype=np.float64)
    return Contributions(full[:, :-1], full[:, -1])


@dataclass(frozen=True)
class Importance:
    mean_abs: np.ndarray
    mean: np.ndarray
    pairs: int


def global_importance(model: Ranker, X: np.ndarray) -> Importance:
    """Mean |contribution| and mean contribution per feature over the pairs of X (a
    uniform sample of the scored pairs)."""
    c = contributions(model, X).per_feature
    if c.shape[0] == 0:
        return Importance(np.zeros(X.shape[1]), np.zeros(X.shape[1]), 0)
    return Importance(np.abs(c).mean(axis=0), c.mean(axis=0), int(c.shape[0]))


def typical_values(X: np.ndarray) -> np.ndarray:
    """Population quartiles per feature, shape (3, features): p25, median, p75, of X (a
    uniform sample of the scored pairs)."""
    if X.shape[0] == 0:
        return np.full((3, X.shape[1]), np.nan)
    return np.quantile(X, [0.25, 0.5, 0.75], axis=0)
