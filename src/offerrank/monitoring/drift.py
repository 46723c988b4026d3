"""Feature drift between the training reference and the rows scored today.

Two statistics per feature, because each alone misleads:

* PSI over the reference's quantile bins sees any change of shape, but it is noisy on
  small samples and on features with near-empty bins (a handful of rows in a bin whose
  reference share was floored at `eps` is enough to push it over 0.2).
* The Wasserstein-1 distance divided by the reference's spread says how far, in
  reference standard deviations, the mass moved. It is stable on small samples but says
  nothing about whether the move is statistically visible across the distribution.

A feature is flagged only when **both** exceed their thresholds: the shape changed *and*
the change is large relative to the feature's spread. Sampling noise (high PSI, tiny
distance) and small shifts of a feature with tiny bins then do not trigger retraining.
A feature that was constant in training scores 0 on both while it stays at that constant
and is flagged as soon as it departs from it (the model has never seen it vary).

`reference_profile` condenses the training distribution to a small JSON-able dict kept
beside a model, so the daily check never needs the training rows again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.stats import wasserstein_distance

FeatureFrame: TypeAlias = pa.Table | pd.DataFrame | Mapping[str, Any]

PROFILE_VERSION = 1
_IQR_PER_SIGMA = 1.3489795003921634  # interquartile range of a standard normal
# Quantiles as data values (inverse empirical CDF): discrete features stay discrete.
_QUANTILE_METHOD: Literal["inverted_cdf"] = "inverted_cdf"
_TAIL = 0.005  # share winsorised at each end before measuring Wasserstein


@dataclass(frozen=True)
class FeatureDrift:
    """Drift statistics of one feature and the verdict under the thresholds used."""

    feature: str
    psi: float
    wasserstein: float
    psi_threshold: float
    wasserstein_threshold: float
    drifted: bool


def _values(x: Any) -> np.ndarray:
    """A finite float64 vector; features are never NULL, so a NaN is a bug upstream."""
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError("drift statistics need at least one value")
    if not np.isfinite(a).all():
        raise ValueError("drift statistics need finite values (found NaN or inf)")
    return a


def _psi_from_shares(ref_share: np.ndarray, cur_share: np.ndarray, eps: float) -> float:
    r = np.maximum(ref_share, eps)
    c = np.maximum(cur_share, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of `values` in the bins (-inf, e0), [e0, e0], (e0, e1], ..., (e_last, inf).

    Right-closed bins keep each value of a discrete feature apart from the next, and the
    bins below and at the reference minimum catch a move below a constant reference.
    """
    idx = np.searchsorted(edges, values, side="left") + (values >= edges[0])
    return np.bincount(idx, minlength=edges.size + 2) / values.size


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of `current` against `reference`.

    Edges are the reference quantiles at 0, 1/bins, ..., (bins-1)/bins taken as data values
    (inverse empirical CDF) and deduplicated, so a continuous feature gets `bins` bins of
    equal reference share (plus the single-point bin at its minimum and the empty one
    below it), a binary feature gets about two, and a constant c gets below c, c, above c.
    PSI = sum over bins of (c_i - r_i) * ln(c_i / r_i), with both shares floored at `eps`
    so that an empty bin contributes a large but finite term.
    """
    ref, cur = _values(reference), _values(current)
    edges = np.unique(np.quantile(ref, np.arange(bins) / bins, method=_QUANTILE_METHOD))
    return _psi_from_shares(_bin_shares(ref, edges), _bin_shares(cur, edges), eps)


def _spread(values: np.ndarray) -> float:
    """Robust sigma (IQR / 1.349), else the standard deviation, else 0."""
    q25, q75 = np.quantile(values, [0.25, 0.75])
    iqr_sigma = float(q75 - q25) / _IQR_PER_SIGMA
    return iqr_sigma if iqr_sigma > 0 else float(np.std(values))


def _pooled_std(n1: float, m1: float, s1: float, n2: float, m2: float, s2: float) -> float:
    total = n1 + n2
    mean = (n1 * m1 + n2 * m2) / total
    var = (n1 * (s1**2 + (m1 - mean) ** 2) + n2 * (s2**2 + (m2 - mean) ** 2)) / total
    return float(np.sqrt(max(var, 0.0)))


def _clip_bounds(tails: np.ndarray, extremes: np.ndarray) -> tuple[float, float]:
    """Winsorisation bounds: the reference's tail quantiles, widened when they coincide.

    A rare binary feature has equal 0.5% and 99.5% quantiles; its bounds become the
    reference's min and max. A constant reference is not clipped at all, so that any
    departure from the constant stays visible.
    """
    for lo, hi in (tails, extremes):
        if lo < hi:
            return float(lo), float(hi)
    return -np.inf, np.inf


def _normalise(w1: float, scale: float, pooled: float) -> float:
    """W1 in reference-sigma units; a zero-spread reference falls back to the pooled sigma.

    The fallback keeps a constant training feature at exactly 0 while today's values equal
    that constant, and makes any departure large (a full shift of the mass scores 2).
    """
    if scale > 0:
        return w1 / scale
    return w1 / pooled if pooled > 0 else 0.0


def normalized_wasserstein(
    reference: np.ndarray, current: np.ndarray, tail: float = _TAIL
) -> float:
    """Wasserstein-1 distance of winsorised samples, divided by the reference's spread.

    Both samples are clipped to the reference's `tail` and 1 - `tail` quantiles (see
    `_clip_bounds`): a few extreme customers then cannot dominate the distance, and the
    statistic can be recomputed from a stored quantile profile. Spread is IQR/1.349 of the
    clipped reference (the sigma of a normal with that IQR), falling back to its standard
    deviation when the IQR is 0 (a mostly-zero feature) and to the pooled standard deviation
    of both samples when the reference is constant. A normal mean shift of d sigmas scores
    about d.
    """
    ref, cur = _values(reference), _values(current)
    tails = np.quantile(ref, [tail, 1.0 - tail], method=_QUANTILE_METHOD)
    lo, hi = _clip_bounds(tails, np.array([ref.min(), ref.max()]))
    ref, cur = np.clip(ref, lo, hi), np.clip(cur, lo, hi)
    w1 = float(wasserstein_distance(ref, cur))
    pooled = _pooled_std(
        ref.size, ref.mean(), ref.std(), cur.size, float(cur.mean()), float(cur.std())
    )
    return _normalise(w1, _spread(ref), pooled)


def _column_names(frame: FeatureFrame) -> list[str]:
    if isinstance(frame, pa.Table):
        return list(frame.column_names)
    return list(frame.keys()) if isinstance(frame, Mapping) else list(frame.columns)


def _columns(frame: FeatureFrame, features: Sequence[str], sample: int, seed: int) -> dict:
    """The named columns as float64 arrays, on the same random subset of rows when large."""
    missing = [f for f in features if f not in _column_names(frame)]
    if missing:
        raise ValueError(f"drift: missing feature columns {missing}")
    cols = {f: np.asarray(frame[f], dtype=np.float64) for f in features}
    n = len(next(iter(cols.values()))) if cols else 0
    if n > sample:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))
        cols = {f: a[rows] for f, a in cols.items()}
    return cols


def _verdict(name: str, p: float, w: float, psi_thr: float, w_thr: float) -> FeatureDrift:
    return FeatureDrift(name, p, w, psi_thr, w_thr, drifted=bool(p > psi_thr and w > w_thr))


def feature_drift(
    reference: FeatureFrame,
    current: FeatureFrame,
    features: Sequence[str],
    *,
    psi_threshold: float = 0.2,
    wasserstein_threshold: float = 0.25,
    bins: int = 10,
    sample: int = 200_000,
    seed: int = 0,
) -> list[FeatureDrift]:
    """PSI and normalised Wasserstein of each feature; drifted when both exceed thresholds.

    Each side is subsampled (uniformly, without replacement) to at most `sample` rows,
    which bounds the cost and leaves both statistics essentially unchanged.
    """
    ref = _columns(reference, features, sample, seed)
    cur = _columns(current, features, sample, seed + 1)
    return [
        _verdict(
            f,
            psi(ref[f], cur[f], bins=bins),
            normalized_wasserstein(ref[f], cur[f]),
            psi_threshold,
            wasserstein_threshold,
        )
        for f in features
    ]


def dataset_drift(drifts: Sequence[FeatureDrift], share_threshold: float) -> tuple[bool, float]:
    """(flag, share): the share of features that drifted, flagged when >= `share_threshold`."""
    if not drifts:
        return False, 0.0
    share = sum(d.drifted for d in drifts) / len(drifts)
    return share >= share_threshold, share


def reference_profile(
    table: FeatureFrame, features: Sequence[str], max_points: int = 1000
) -> dict[str, Any]:
    """A JSON-able summary of the training distribution, stored beside the model.

    Per feature: the quantiles at j / max_points for j = 0..max_points taken as data values
    (inverse empirical CDF), plus n, mean, std and the spread that normalises Wasserstein.
    With max_points a multiple of `bins` and of 1 / tail (the default 1000 is), PSI edges and
    winsorisation bounds read from the profile equal those of the raw data, and reference
    bin shares are exact to within 1 / max_points.
    """
    cols = _columns(table, features, sample=np.iinfo(np.int64).max, seed=0)
    grid = np.linspace(0.0, 1.0, max_points + 1)
    out: dict[str, Any] = {"version": PROFILE_VERSION, "max_points": max_points, "features": {}}
    for f in features:
        v = _values(cols[f])
        q = np.quantile(v, grid, method=_QUANTILE_METHOD)
        lo, hi = _clip_bounds(*_profile_bounds(q, _TAIL))
        out["features"][f] = {
            "n": int(v.size),
            "mean": float(v.mean()),
            "std": float(v.std()),
            "scale": _spread(np.clip(v, lo, hi)),
            "quantiles": q.tolist(),
        }
    return out


def _grid_index(q: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.rint(p * (q.size - 1)).astype(np.int64)


def _profile_bounds(q: np.ndarray, tail: float) -> tuple[np.ndarray, np.ndarray]:
    return q[_grid_index(q, np.array([tail, 1.0 - tail]))], q[[0, -1]]


def _profile_psi(q: np.ndarray, cur: np.ndarray, bins: int, eps: float) -> float:
    """PSI with edges and reference shares read off the stored quantile function."""
    grid = np.linspace(0.0, 1.0, q.size)
    edges = np.unique(q[_grid_index(q, np.arange(bins) / bins)])
    cdf = grid[np.searchsorted(q, edges, side="right") - 1]
    ref_share = np.diff(np.concatenate([[0.0, 0.0], cdf, [1.0]]))
    return _psi_from_shares(ref_share, _bin_shares(cur, edges), eps)


def _profile_wasserstein(stats: Mapping[str, Any], q: np.ndarray, cur: np.ndarray) -> float:
    """W1 = integral over p of |Q_ref(p) - Q_cur(p)| of the winsorised samples.

    Integrated by the trapezoid rule on the stored grid; winsorising keeps the tail
    intervals, where a coarse grid would be least accurate, bounded.
    """
    grid = np.linspace(0.0, 1.0, q.size)
    lo, hi = _clip_bounds(*_profile_bounds(q, _TAIL))
    qc = np.quantile(np.clip(cur, lo, hi), grid, method=_QUANTILE_METHOD)
    w1 = float(np.trapezoid(np.abs(np.clip(q, lo, hi) - qc), grid))
    cur = np.clip(cur, lo, hi)
    pooled = _pooled_std(
        stats["n"], stats["mean"], stats["std"], cur.size, float(cur.mean()), float(cur.std())
    )
    return _normalise(w1, float(stats["scale"]), pooled)


def feature_drift_from_profile(
    profile: Mapping[str, Any],
    current: FeatureFrame,
    features: Sequence[str],
    *,
    psi_threshold: float = 0.2,
    wasserstein_threshold: float = 0.25,
    bins: int = 10,
    eps: float = 1e-4,
    sample: int = 200_000,
    seed: int = 0,
) -> list[FeatureDrift]:
    """`feature_drift` against a stored `reference_profile` instead of the training rows."""
    if profile.get("version") != PROFILE_VERSION:
        raise ValueError(f"unsupported drift profile version {profile.get('version')!r}")
    missing = [f for f in features if f not in profile["features"]]
    if missing:
        raise ValueError(f"drift profile has no reference for features {missing}")
    cur = _columns(current, features, sample, seed + 1)
    result = []
    for f in features:
        stats = profile["features"][f]
        q = np.asarray(stats["quantiles"], dtype=np.float64)
        c = _values(cur[f])
        p, w = _profile_psi(q, c, bins, eps), _profile_wasserstein(stats, q, c)
        result.append(_verdict(f, p, w, psi_threshold, wasserstein_threshold))
    return result
