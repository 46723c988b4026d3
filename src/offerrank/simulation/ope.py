"""Off-policy evaluation: a new ranking's value estimated from logged impressions.

The unit is a *pool pair*: one candidate (customer, offer) of a decision (a customer
on a day, the "group"). For each pool pair we know the logging policy's inclusion
propensity `pi0` (probability that the logger put the pair in the served list; NaN
when unknown), the target policy's inclusion probability `pi1` (1/0 for a
deterministic top K), the direct-method prediction `q` (the calibrated score), whether
it was `logged` (actually served) and, when logged, its `reward` (redeemed within the
label window, or the margin that redemption earned).

Because a redemption depends on the pair being shown and not on the rest of the list
or the slot, the value of a list is the sum of its pairs' expected rewards, and
inclusion propensities are all the estimators need. Value = expected reward per group:

    IPS    V = (1/G) sum_logged w r,          w = pi1 / pi0
    SNIPS  V = (sum_logged w r / sum_logged w) * (1/G) sum_pool pi1
    DR     V = (1/G) [ sum_pool pi1 q + sum_logged w (r - q) ]

IPS and DR are unbiased when every pair the target may show had pi0 > 0 and the
propensities are right (DR also when `q` is right instead); SNIPS trades a small bias
for less variance. An estimate is flagged `trusted=False` with the reason when a
logged pair has no propensity or a zero one, or when the target takes actions the
logger never took (pi1 > 0 where pi0 is 0 or unknown): no reweighting can recover
those, and the figure is then only a guess.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from offerrank.errors import OfferrankError


class UntrustedEstimate(OfferrankError):
    """An estimate was required to be trustworthy and is not."""


@dataclass(frozen=True)
class Estimate:
    estimator: str
    value: float
    stderr: float
    trusted: bool
    reason: str | None
    groups: int
    logged: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _vec(x: np.ndarray | float, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)).copy()


def trust_problems(pi0: np.ndarray, pi1: np.ndarray, logged: np.ndarray) -> str | None:
    """Why estimates from this log must not be trusted, or None."""
    reasons = []
    bad = logged & ~(np.nan_to_num(pi0, nan=0.0) > 0)
    if bad.any():
        reasons.append(f"{int(bad.sum())} logged pairs have a missing or zero propensity")
    unsupported = (pi1 > 0) & ~logged & ~(np.nan_to_num(pi0, nan=0.0) > 0)
    if unsupported.any():
        reasons.append(
            f"support violation: the target takes {int(unsupported.sum())} actions the logger"
            " never took (propensity 0 or unknown)"
        )
    return "; ".join(reasons) or None


def _group_mean(groups: np.ndarray, contrib: np.ndarray) -> tuple[float, float, int, np.ndarray]:
    """Mean per-group total of `contrib` and its standard error over groups."""
    _, codes = np.unique(groups, return_inverse=True)
    totals = np.bincount(codes, weights=contrib)
    g = totals.size
    if g == 0:
        return math.nan, math.nan, 0, totals
    se = float(totals.std(ddof=1) / math.sqrt(g)) if g > 1 else math.nan
    return float(totals.mean()), se, g, totals


def estimate(
    groups: np.ndarray,
    pi0: np.ndarray,
    pi1: np.ndarray,
    q: np.ndarray,
    logged: np.ndarray,
    reward: np.ndarray,
    *,
    strict: bool = False,
) -> dict[str, Estimate]:
    """IPS, SNIPS and DR estimates of the target's value per group (see module doc).

    All arrays have one element per pool pair; `reward` is read only where `logged`.
    With `strict`, an untrusted log raises UntrustedEstimate instead of flagging.
    """
    groups = np.asarray(groups)
    n = groups.size
    pi0, pi1, q, reward = (_vec(a, n) for a in (pi0, pi1, q, reward))
    logged = _vec(logged, n).astype(bool)
    reason = trust_problems(pi0, pi1, logged)
    if reason and strict:
        raise UntrustedEstimate(f"off-policy estimate not trustworthy: {reason}")
    usable = logged & (np.nan_to_num(pi0, nan=0.0) > 0)
    w = np.where(usable, pi1 / np.where(usable, pi0, 1.0), 0.0)
    r = np.where(usable, reward, 0.0)
    n_logged = int(logged.sum())

    ips, ips_se, g, wr = _group_mean(groups, w * r)
    w_mean, _, _, wt = _group_mean(groups, w)
    slots, _, _, _ = _group_mean(groups, pi1)
    ratio = ips / w_mean if w_mean > 0 else math.nan
    snips = ratio * slots
    # Delta method for a ratio of means, scaled by the (known) mean target list size.
    resid = wr - ratio * wt
    snips_se = (
        float(resid.std(ddof=1) / math.sqrt(g) / w_mean * slots)
        if g > 1 and w_mean > 0
        else math.nan
    )
    dm_part = np.where(np.isfinite(q), q, 0.0)
    dr, dr_se, _, _ = _group_mean(groups, pi1 * dm_part + w * (r - np.where(usable, dm_part, 0.0)))

    def make(name: str, value: float, se: float) -> Estimate:
        return Estimate(name, value, se, reason is None, reason, g, n_logged)

    return {
        "ips": make("ips", ips, ips_se),
        "snips": make("snips", snips, snips_se),
        "dr": make("dr", dr, dr_se),
    }


def true_value(groups: np.ndarray, pi1: np.ndarray, expected_reward: np.ndarray) -> float:
    """The target's value per group when the expected reward of every pool pair is known."""
    value, _, _, _ = _group_mean(np.asarray(groups), np.asarray(pi1) * np.asarray(expected_reward))
    return value
