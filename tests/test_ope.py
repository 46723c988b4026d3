"""Off-policy estimators on hand-made logs where the true value is known."""

from __future__ import annotations

import numpy as np
import pytest

from offerrank.ranking.rank import rank_within_customer
from offerrank.ranking.serving import choose_lists
from offerrank.simulation.ope import UntrustedEstimate, estimate, true_value

GROUPS, POOL, K = 400, 4, 2


def _world(seed: int = 0) -> dict[str, np.ndarray]:
    """Groups of 4 candidates with known redemption probabilities and a noisy model."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(GROUPS), POOL)
    offer = np.tile(np.arange(POOL), GROUPS)
    p = rng.uniform(0.02, 0.4, groups.size)
    model = np.clip(p + rng.normal(0, 0.05, p.size), 0.001, 0.999)
    target_key = p * rng.uniform(0.5, 2.0, p.size)  # a different ranking than the logger's
    pi1 = (rank_within_customer(groups, offer, target_key) <= K).astype(float)
    return {"groups": groups, "offer": offer, "p": p, "model": model, "pi1": pi1}


def _replicate(w: dict[str, np.ndarray], seed: int, epsilon: float) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    s = choose_lists(
        w["groups"], w["offer"], w["model"], K, mode="epsilon", epsilon=epsilon, rng=rng
    )
    logged = s.position > 0
    reward = (rng.random(w["p"].size) < w["p"]).astype(float)
    est = estimate(w["groups"], s.inclusion, w["pi1"], w["model"], logged, reward)
    assert all(e.trusted for e in est.values())
    return {k: e.value for k, e in est.items()}


def test_ips_snips_dr_are_unbiased_on_an_exploring_log() -> None:
    w = _world()
    truth = true_value(w["groups"], w["pi1"], w["p"])
    reps = [_replicate(w, seed, epsilon=0.5) for seed in range(300)]
    for name in ("ips", "snips", "dr"):
        values = np.array([r[name] for r in reps])
        se = values.std(ddof=1) / np.sqrt(values.size)
        assert abs(values.mean() - truth) < 4 * se + 0.002, name
    ips_sd = np.std([r["ips"] for r in reps])
    dr_sd = np.std([r["dr"] for r in reps])
    assert dr_sd < ips_sd  # a good direct-method model removes most of the variance


def test_ips_by_hand() -> None:
    # two groups; group 0 logged pairs a (pi0 .5, r 1) and b (pi0 .25, r 0); group 1 logged c
    groups = np.array([0, 0, 0, 1, 1])
    pi0 = np.array([0.5, 0.25, 0.25, 1.0, 0.5])
    pi1 = np.array([1.0, 1.0, 0.0, 1.0, 0.0])
    logged = np.array([True, True, False, True, False])
    reward = np.array([1.0, 0.0, 0.0, 1.0, 0.0])
    q = np.array([0.5, 0.2, 0.1, 0.6, 0.3])
    est = estimate(groups, pi0, pi1, q, logged, reward)
    assert est["ips"].value == pytest.approx((1 / 0.5 + 1 / 1.0) / 2)  # 1.5
    # SNIPS: (sum w r / sum w) * mean target slots = (3 / (2 + 4 + 1)) * (3 / 2)
    assert est["snips"].value == pytest.approx(3 / 7 * 1.5)
    # DR: DM part (0.5 + 0.2 + 0.6) + corrections 2 * 0.5 + 4 * (-0.2) + 1 * 0.4, per group
    assert est["dr"].value == pytest.approx((1.3 + 1.0 - 0.8 + 0.4) / 2)


def test_support_violation_is_flagged_and_strict_refuses() -> None:
    w = _world(1)
    s = choose_lists(w["groups"], w["offer"], w["model"], K)  # greedy: no exploration
    logged = s.position > 0
    reward = np.zeros(w["p"].size)
    est = estimate(w["groups"], s.inclusion, w["pi1"], w["model"], logged, reward)
    assert not est["ips"].trusted
    assert "support violation" in (est["ips"].reason or "")
    with pytest.raises(UntrustedEstimate, match="never took"):
        estimate(w["groups"], s.inclusion, w["pi1"], w["model"], logged, reward, strict=True)
    # the logger's own policy is in its support
    own = estimate(w["groups"], s.inclusion, s.inclusion, w["model"], logged, reward)
    assert own["ips"].trusted


def test_missing_or_zero_propensities_are_flagged() -> None:
    groups = np.array([0, 0, 1])
    logged = np.array([True, False, True])
    for bad in (np.nan, 0.0):
        pi0 = np.array([bad, 0.5, 1.0])
        est = estimate(groups, pi0, np.array([1.0, 0.0, 1.0]), 0.1, logged, np.ones(3))
        assert not est["dr"].trusted
        assert "missing or zero propensity" in (est["dr"].reason or "")
