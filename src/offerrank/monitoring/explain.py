"""Per-pair explanations: which features pushed a pair's score up or down, and by how much.

Both rankers are additive in log-odds: LightGBM's TreeSHAP contributions (`pred_contrib`)
and logistic regression's coefficient times standardised value each sum, with a bias
column, to the pair's calibrated log-odds. So a pair's explanation, and the difference
between two offers of one customer, are exact decompositions, not approximations.

Every run keeps a sample of its scored pairs, stratified so that the pairs customers
actually see (ranks 1..K) are always represented: all top-K pairs of a random subset of
customers, plus a uniform random sample of the other pairs. Global importance is the
mean absolute contribution over a uniform random sample of all scored pairs, so that
the over-represented top pairs do not bias it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from offerrank.training.models import Ranker

UNITS = "log-odds"
DEFAULT_SAMPLE = 2000
# TreeSHAP costs about 0.3-0.6 ms per pair for the small world's model: 2,000 pairs keep the
# step near a second and the mean |contribution| within a few per cent.
DEFAULT_IMPORTANCE_SAMPLE = 2000
TOP_STRATUM = "top"
RANDOM_STRATUM = "random"


def method_of(kind: str) -> str:
    """How a model kind's contributions are computed, in words for readers of the store."""
    if kind == "lightgbm":
        return "TreeSHAP (LightGBM pred_contrib)"
    return "coefficient x standardised value"


def sample_rng(seed: int, run_date: date) -> np.random.Generator:
    """Deterministic per date: a rerun samples the same pairs, another day other pairs."""
    return np.random.default_rng([seed, run_date.toordinal()])


@dataclass(frozen=True)
class Sample:
    """Row indices into the scored pairs, with the stratum each was drawn from."""

    index: np.ndarray
    stratum: np.ndarray  # TOP_STRATUM | RANDOM_STRATUM per row

    @property
    def top_pairs(self) -> int:
        return int(np.count_nonzero(self.stratum == TOP_STRATUM))


def stratified_sample(
    customer_ids: np.ndarray, rank: np.ndarray, top_k: int, size: int, rng: np.random.Generator
) -> Sample:
    """All rank-1..top_k pairs of random customers (half the budget), then random others.

    Customers are taken in a random order while their top pairs still fit in half of
    `size`; the rest of the budget is a uniform sample of the pairs not taken yet.
    """
    n = customer_ids.size
    if size <= 0 or n == 0:
        return Sample(np.zeros(0, np.int64), np.zeros(0, dtype=str))
    is_top = rank <= top_k
    customers, inverse = np.unique(customer_ids, return_inverse=True)
    tops_per_customer = np.bincount(inverse, weights=is_top, minlength=customers.size)
    order = rng.permutation(customers.size)
    fits = np.cumsum(tops_per_customer[order]) <= size // 2
    chosen = np.zeros(customers.size, dtype=bool)
    chosen[order[fits]] = True
    top_idx = np.flatnonzero(is_top & chosen[inverse])
    rest = np.setdiff1d(np.arange(n), top_idx, assume_unique=True)
    take = min(size - top_idx.size, rest.size)
    rand_idx = np.sort(rng.choice(rest, size=take, replace=False)) if take > 0 else rest[:0]
    index = np.concatenate([top_idx, rand_idx]).astype(np.int64)
    stratum = np.repeat(np.array([TOP_STRATUM, RANDOM_STRATUM]), [top_idx.size, rand_idx.size])
    return Sample(index, stratum)


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


def global_importance(
    model: Ranker, X: np.ndarray, rng: np.random.Generator, max_pairs: int
) -> Importance:
    """Mean |contribution| and mean contribution per feature over a uniform sample of X."""
    if X.shape[0] > max_pairs:
        X = X[np.sort(rng.choice(X.shape[0], size=max_pairs, replace=False))]
    c = contributions(model, X).per_feature
    if c.shape[0] == 0:
        return Importance(np.zeros(X.shape[1]), np.zeros(X.shape[1]), 0)
    return Importance(np.abs(c).mean(axis=0), c.mean(axis=0), int(c.shape[0]))


TYPICAL_SAMPLE = 200_000


def typical_values(X: np.ndarray, seed: int = 0) -> np.ndarray:
    """Population quartiles per feature, shape (3, features): p25, median, p75.

    Above TYPICAL_SAMPLE rows they are estimated on a fixed-seed uniform sample: the
    quartiles of 200,000 rows are as good for "typical" and cost a tenth of the time.
    """
    if X.shape[0] == 0:
        return np.full((3, X.shape[1]), np.nan)
    if X.shape[0] > TYPICAL_SAMPLE:
        rows = np.random.default_rng(seed).choice(X.shape[0], TYPICAL_SAMPLE, replace=False)
        X = X[np.sort(rows)]
    return np.quantile(X, [0.25, 0.5, 0.75], axis=0)
