"""Drift statistics: PSI, normalised Wasserstein, verdicts and the stored reference profile."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offerrank.monitoring.drift import (
    FeatureDrift,
    dataset_drift,
    feature_drift,
    feature_drift_from_profile,
    normalized_wasserstein,
    psi,
    reference_profile,
)

RNG = np.random.default_rng(11)
NORMAL = RNG.normal(size=20_000)


def test_psi_hand_computed() -> None:
    # Edges = reference quantiles at 0 and 1/2 as data values = [1, 2]:
    # bins (-inf, 1), [1, 1], (1, 2], (2, inf) hold 0, 1/4, 1/4, 1/2 of [1, 2, 3, 4].
    # Current [3, 3, 4, 4] is all in the last bin; empty shares are floored at eps
    # (the first bin, empty on both sides, contributes 0).
    eps = 1e-4
    expected = 2 * (eps - 0.25) * np.log(eps / 0.25) + (1 - 0.5) * np.log(1 / 0.5)
    assert psi([1, 2, 3, 4], [3, 3, 4, 4], bins=2, eps=eps) == pytest.approx(expected)


def test_psi_of_a_sample_against_itself_and_a_twin_is_near_zero() -> None:
    assert psi(NORMAL, NORMAL) == 0.0
    assert psi(NORMAL, RNG.normal(size=20_000)) < 0.01


def test_psi_grows_with_mean_shift() -> None:
    values = [psi(NORMAL, NORMAL + d) for d in (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert values[3] > 0.2  # half a sigma is a textbook "significant" PSI


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=200),
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=200),
)
def test_psi_and_wasserstein_are_non_negative_and_zero_on_self(a: list, b: list) -> None:
    assert psi(a, b) >= 0 and normalized_wasserstein(a, b) >= 0
    assert psi(a, a) == 0 and normalized_wasserstein(a, a) == 0


def test_discrete_and_constant_features() -> None:
    binary = (RNG.random(10_000) < 0.2).astype(float)
    assert psi(binary, binary[::-1]) == 0.0
    # 20% -> 50% ones: two bins, (.5 - .2) ln(.5/.2) + (.5 - .8) ln(.5/.8)
    moved = (np.arange(10_000) < 5_000).astype(float)
    p = binary.mean()
    assert psi(binary, moved) == pytest.approx(
        (0.5 - p) * np.log(0.5 / p) + (p - 0.5) * np.log(0.5 / (1 - p))
    )
    const = np.full(1000, 3.0)
    assert psi(const, np.full(50, 3.0)) == 0 and normalized_wasserstein(const, const[:50]) == 0
    for departure in (2.0, 4.0):  # below and above the constant are both seen
        cur = np.where(np.arange(200) < 20, departure, 3.0)
        assert psi(const, cur) > 0.2 and normalized_wasserstein(const, cur) > 0.25


def test_normalized_wasserstein_is_in_reference_sigmas_and_scale_free() -> None:
    for d in (0.1, 0.5, 1.0):
        assert normalized_wasserstein(NORMAL, NORMAL + d) == pytest.approx(d, rel=0.05)
    assert normalized_wasserstein(10 * NORMAL + 7, 10 * (NORMAL + 0.5) + 7) == pytest.approx(
        normalized_wasserstein(NORMAL, NORMAL + 0.5)
    )
    # Winsorised: one huge value in today's data barely moves it.
    assert normalized_wasserstein(NORMAL, np.append(NORMAL, 1e9)) < 0.01


def _frame(n: int, shift: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "steady": rng.normal(size=n),
        "shifted": rng.lognormal(shift, 1.0, n),
        "binary": (rng.random(n) < 0.2).astype(float),
        "counts": rng.poisson(2 + shift, n).astype(float),
        "const": np.zeros(n),
    }


FEATURES = ["steady", "shifted", "binary", "counts", "const"]


def test_feature_drift_flags_only_the_moved_feature_for_any_input_type() -> None:
    ref, cur = _frame(20_000, 0.0, 1), _frame(5_000, 1.0, 2)
    result = feature_drift(ref, cur, FEATURES)
    assert [d.feature for d in result] == FEATURES
    flagged = {d.feature for d in result if d.drifted}
    assert flagged == {"shifted", "counts"}
    for d in result:
        assert d.psi_threshold == 0.2 and d.wasserstein_threshold == 0.25
    as_pandas = feature_drift(pd.DataFrame(ref), pd.DataFrame(cur), FEATURES)
    as_arrow = feature_drift(pa.table(ref), pa.table(cur), FEATURES)
    assert as_pandas == result == as_arrow


def test_both_statistics_must_exceed_their_thresholds() -> None:
    ref, cur = _frame(5_000, 0.0, 1), _frame(5_000, 1.0, 2)
    [high_psi_only] = feature_drift(ref, cur, ["shifted"], wasserstein_threshold=100.0)
    [high_w_only] = feature_drift(ref, cur, ["shifted"], psi_threshold=100.0)
    [both] = feature_drift(ref, cur, ["shifted"])
    assert both.drifted and not high_psi_only.drifted and not high_w_only.drifted
    # Sampling noise on a tiny sample: PSI can be large while the distance stays small.
    small = feature_drift({"x": NORMAL}, {"x": NORMAL[:30]}, ["x"], psi_threshold=0.0)
    assert not small[0].drifted


def test_sampling_is_deterministic_and_close_to_the_full_data() -> None:
    ref, cur = _frame(30_000, 0.0, 1), _frame(30_000, 0.3, 2)
    full = feature_drift(ref, cur, FEATURES)
    sampled = feature_drift(ref, cur, FEATURES, sample=10_000, seed=5)
    assert sampled == feature_drift(ref, cur, FEATURES, sample=10_000, seed=5)
    for a, b in zip(full, sampled, strict=True):
        assert b.psi == pytest.approx(a.psi, abs=0.02)
        assert b.wasserstein == pytest.approx(a.wasserstein, abs=0.05)


def test_profile_agrees_with_raw_data_after_a_json_round_trip() -> None:
    ref = _frame(50_000, 0.0, 1)
    profile = json.loads(json.dumps(reference_profile(pa.table(ref), FEATURES)))
    for shift in (0.0, 0.2, 1.0):
        cur = _frame(10_000, shift, 7)
        raw = feature_drift(ref, cur, FEATURES)
        stored = feature_drift_from_profile(profile, cur, FEATURES)
        for a, b in zip(raw, stored, strict=True):
            assert b.feature == a.feature and b.drifted == a.drifted
            assert b.psi == pytest.approx(a.psi, rel=0.05, abs=0.005)
            assert b.wasserstein == pytest.approx(a.wasserstein, rel=0.05, abs=0.01)


def test_errors_name_the_problem() -> None:
    ref = _frame(100, 0.0, 1)
    with pytest.raises(ValueError, match="missing feature columns"):
        feature_drift(ref, ref, ["nope"])
    profile = reference_profile(ref, ["steady"])
    with pytest.raises(ValueError, match="no reference"):
        feature_drift_from_profile(profile, ref, ["binary"])
    with pytest.raises(ValueError, match="version"):
        feature_drift_from_profile({**profile, "version": 99}, ref, ["steady"])
    with pytest.raises(ValueError, match="finite"):
        psi([1.0, np.nan], [1.0])


def test_dataset_drift_share() -> None:
    def d(flag: bool) -> FeatureDrift:
        return FeatureDrift("f", 0.0, 0.0, 0.2, 0.25, flag)

    assert dataset_drift([d(True), d(False), d(False)], 0.3) == (True, pytest.approx(1 / 3))
    assert dataset_drift([d(True), d(False), d(False), d(False)], 0.3) == (False, 0.25)
    assert dataset_drift([], 0.3) == (False, 0.0)
