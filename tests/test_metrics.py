"""Offline evaluation metrics: hand-computed fixtures, edge cases and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from offerrank.monitoring.metrics import offline_metrics
from offerrank.monitoring.metrics_bootstrap import bootstrap_ci
from offerrank.monitoring.metrics_lists import coverage, diversity
from offerrank.monitoring.metrics_probability import brier, calibration_table, roc_curve_points
from offerrank.monitoring.metrics_rank import (
    auc,
    margin_lift_at_k,
    margin_lift_curve,
    mean_per_group_auc,
    precision_recall_at_k,
    precision_recall_curve_at_k,
)

# Three customers, scores distinct within each customer.
#   A: scores .9 .8 .7 .1, labels 0 1 1 0, margins 5 2 3 4   (P_A = 2, n_A = 4)
#   B: scores .6 .5,       labels 1 0,     margins 10 1      (P_B = 1, n_B = 2)
#   C: scores .4 .3 .2,    labels 0 0 0                      (no positive: never averaged)
HAND = pd.DataFrame(
    {
        "customer_id": [1, 1, 1, 1, 2, 2, 3, 3, 3],
        "offer_id": [10, 11, 12, 13, 10, 11, 10, 11, 12],
        "score": [0.9, 0.8, 0.7, 0.1, 0.6, 0.5, 0.4, 0.3, 0.2],
        "label": [0, 1, 1, 0, 1, 0, 0, 0, 0],
        "margin": [5.0, 2.0, 3.0, 4.0, 10.0, 1.0, 1.0, 1.0, 1.0],
    }
)


def _cols(df: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(df[c].to_numpy() for c in ("customer_id", "label", "score", "margin"))


@pytest.mark.parametrize(
    ("k", "precision", "recall", "lift"),
    [
        # k=2: A's top 2 = (.9 no, .8 yes) -> 1 hit of 2; B's top 2 = both -> 1 hit of 1.
        #   p = (1/2 + 1/2)/2, r = (1/2 + 1/1)/2.
        #   lift: A 2 / (2/4 * (2+3) = 2.5), B 10 / (2/2 * 10) -> 12 / 12.5.
        (2, 0.5, 0.75, 12 / 12.5),
        # k=1: A's top = .9 (no) -> 0; B's top = .6 (yes) -> 1. p = r = (0 + 1)/2.
        #   lift: A 0 / (1/4 * 5), B 10 / (1/2 * 10) -> 10 / 6.25.
        (1, 0.5, 0.5, 10 / 6.25),
        # k=10 > every list: all positives found; precision still divides by k.
        #   p = (2/10 + 1/10)/2, r = 1; lift = 15 / 15.
        (10, 0.15, 1.0, 1.0),
    ],
)
def test_hand_computed_precision_recall_and_lift(
    k: int, precision: float, recall: float, lift: float
) -> None:
    cust, y, s, m = _cols(HAND)
    assert precision_recall_at_k(cust, y, s, k) == pytest.approx((precision, recall))
    assert margin_lift_at_k(cust, y, s, m, k) == pytest.approx(lift)


def test_hand_computed_auc_and_per_offer_auc() -> None:
    cust, y, s, _ = _cols(HAND)
    # Positives .8 .7 .6 each beat 5 of the 6 negatives (.9 beats them all): 15 / 18.
    assert auc(y, s) == pytest.approx(15 / 18)
    # Offer 10: pos .6 vs neg .9, .4 -> 1/2. Offer 11: pos .8 vs neg .5, .3 -> 1.
    # Offer 12: pos .7 vs neg .2 -> 1. Offer 13: one class, left out. Mean = 2.5 / 3.
    assert mean_per_group_auc(HAND["offer_id"], y, s) == pytest.approx(2.5 / 3)


def test_ties_count_their_expected_hits_not_row_order() -> None:
    # One customer, four tied impressions with one positive, k=2: expected hits 1 * 2/4.
    cust, y, s = np.zeros(4), np.array([1, 0, 0, 0]), np.full(4, 0.5)
    assert precision_recall_at_k(cust, y, s, 2) == pytest.approx((0.25, 0.5))
    assert margin_lift_at_k(cust, y, s, np.ones(4), 2) == pytest.approx(1.0)
    # A tie straddling the cut: .9 (no) takes slot 1; the tied pair shares slot 2 -> 1/2 hit.
    y2, s2 = np.array([0, 1, 0, 1]), np.array([0.9, 0.5, 0.5, 0.1])
    assert precision_recall_at_k(cust, y2, s2, 2) == pytest.approx((0.25, 0.25))
    assert auc(y2, s2) == pytest.approx(roc_auc_score(y2, s2))


def test_undefined_metrics_are_none() -> None:
    cust, y0, s = np.array([1, 1, 2]), np.zeros(3), np.array([0.3, 0.2, 0.1])
    assert auc(y0, s) is None
    assert auc(np.ones(3), s) is None
    assert mean_per_group_auc(cust, y0, s) is None
    assert precision_recall_at_k(cust, y0, s, 2) is None
    assert margin_lift_at_k(cust, y0, s, np.ones(3), 2) is None
    # Redeemed margins that sum to a loss: a ratio would be meaningless.
    assert margin_lift_at_k(cust, np.ones(3), s, -np.ones(3), 2) is None
    assert coverage([1, 2], []) is None
    assert diversity([1, 2], ["a", "b"]) is None
    assert roc_curve_points(y0, s) is None


def test_coverage_diversity_brier() -> None:
    # Active 1..4; 1 and 2 recommended (9 is not active): 2 / 4.
    assert coverage([1, 2, 2, 9], [1, 2, 3, 4]) == pytest.approx(0.5)
    # c1 [a a b]: 1 same pair of 3; c2 [a b]: 0 of 1; c3 [c]: left out. 1 - (1/3 + 0)/2.
    cust = [1, 1, 1, 2, 2, 3]
    cats = ["a", "a", "b", "a", "b", "c"]
    assert diversity(cust, cats) == pytest.approx(5 / 6)
    assert diversity([1, 1], ["x", "x"]) == pytest.approx(0.0)
    # ((1 - .8)^2 + (0 - .4)^2) / 2
    assert brier([1, 0], [0.8, 0.4]) == pytest.approx(0.1)


def test_calibration_table_and_roc_points() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(5000)
    y = (rng.random(5000) < p).astype(int)
    table = calibration_table(y, p, bins=10)
    assert len(table) == 10
    assert sum(row["count"] for row in table) == 5000
    for row in table:
        assert row["lower"] <= row["mean_predicted"] <= row["upper"]
        assert abs(row["observed_rate"] - row["mean_predicted"]) < 0.1  # calibrated data
    assert len(calibration_table([0, 1], [0.5, 0.5])) == 1
    fpr, tpr = roc_curve_points(y, p, max_points=50)
    assert len(fpr) <= 50
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_curves_match_single_k_functions() -> None:
    cust, y, s, m = _cols(HAND)
    ks, prec, rec = precision_recall_curve_at_k(cust, y, s, [1, 2, 10])
    assert list(ks) == [1, 2, 10]
    assert prec == pytest.approx([0.5, 0.5, 0.15])
    assert rec == pytest.approx([0.5, 0.75, 1.0])
    _, lift = margin_lift_curve(cust, y, s, m, [1, 2, 10])
    assert lift == pytest.approx([1.6, 0.96, 1.0])


def test_offline_metrics_reports_defined_metrics_and_omits_undefined() -> None:
    out = offline_metrics(HAND, 2, bootstrap=50)
    assert out["k"] == 2 and out["n_impressions"] == 9 and out["n_positives"] == 3
    assert out["positive_rate"] == pytest.approx(3 / 9)
    assert out["auc"] == pytest.approx(15 / 18)
    assert out["precision_at_k"] == pytest.approx(0.5)
    assert out["recall_at_k"] == pytest.approx(0.75)
    assert out["margin_lift_at_k"] == pytest.approx(0.96)
    assert out["brier"] == pytest.approx(np.mean((HAND.score - HAND.label) ** 2))
    for name in ("auc", "precision_at_k", "recall_at_k", "margin_lift_at_k"):
        assert out[f"{name}_ci_low"] <= out[f"{name}_ci_high"]
    none = offline_metrics(HAND.assign(label=0, score=HAND.score * 5), 2)
    assert set(none) == {"k", "n_impressions", "n_positives", "positive_rate"}
    assert not any(np.isnan(v) for v in none.values())
    with pytest.raises(ValueError, match="margin"):
        offline_metrics(HAND.drop(columns="margin"), 2)


def _world(seed: int, n_customers: int = 300) -> pd.DataFrame:
    """Impressions whose redemption depends on the score, as a decent model would."""
    rng = np.random.default_rng(seed)
    n = n_customers * 8
    score = rng.random(n)
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, n_customers, n),
            "offer_id": rng.integers(0, 40, n),
            "score": score,
            "label": (rng.random(n) < 0.05 + 0.3 * score).astype(int),
            "margin": rng.gamma(2.0, 1.5, n),
        }
    )


def test_bootstrap_ci_contains_point_estimate_and_matches_offline_metrics() -> None:
    df = _world(0)
    out = offline_metrics(df, 3, bootstrap=200, seed=7)
    for name in ("auc", "precision_at_k", "recall_at_k", "margin_lift_at_k"):
        assert out[f"{name}_ci_low"] < out[name] < out[f"{name}_ci_high"]
    cust, y, s, m = _cols(df)
    # Generic customer bootstrap draws the same customers as offline_metrics' weighted shortcut.
    generic = bootstrap_ci(lambda c, y_, s_: auc(y_, s_), cust, y, s, n=200, seed=7, cluster=cust)
    assert generic == pytest.approx((out["auc_ci_low"], out["auc_ci_high"]))
    lift = bootstrap_ci(
        lambda c, y_, s_, m_: margin_lift_at_k(c, y_, s_, m_, 3),
        *(cust, y, s, m),
        n=200,
        seed=7,
        cluster=cust,
    )
    assert lift == pytest.approx((out["margin_lift_at_k_ci_low"], out["margin_lift_at_k_ci_high"]))
    prec = bootstrap_ci(
        lambda c, y_, s_: precision_recall_at_k(c, y_, s_, 3)[0],
        cust,
        y,
        s,
        n=200,
        seed=7,
        cluster=cust,
    )
    assert prec == pytest.approx((out["precision_at_k_ci_low"], out["precision_at_k_ci_high"]))
    rows = bootstrap_ci(auc, y, s, n=100, seed=1)
    assert rows[0] < out["auc"] < rows[1]
    assert bootstrap_ci(auc, np.zeros(5), np.arange(5.0), n=10) is None


def _frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 60))
    ints = st.lists(st.integers(0, 6), min_size=n, max_size=n)
    return pd.DataFrame(
        {
            "customer_id": draw(ints),
            "offer_id": draw(ints),
            # few distinct values so that ties are common
            "score": np.array(draw(ints), dtype=float) / 6,
            "label": draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)),
            "margin": draw(st.lists(st.floats(0, 50), min_size=n, max_size=n)),
        }
    )


frames = st.composite(_frames)()
quick = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(frames)
def test_auc_matches_sklearn_and_reverses(df: pd.DataFrame) -> None:
    y, s = df.label.to_numpy(), df.score.to_numpy()
    a = auc(y, s)
    if y.min() == y.max():
        assert a is None
        return
    assert a == pytest.approx(roc_auc_score(y, s))
    assert auc(y, -s) == pytest.approx(1 - a)


@quick
@given(frames, st.integers(1, 8))
def test_precision_recall_bounds_and_perfect_ranking(df: pd.DataFrame, k: int) -> None:
    cust, y, s, _ = _cols(df)
    pr = precision_recall_at_k(cust, y, s, k)
    if y.sum() == 0:
        assert pr is None
        return
    assert 0 <= pr[0] <= 1 and 0 <= pr[1] <= 1
    # Ranking by the label finds min(P_c, k) of each customer's P_c positives: the maximum.
    per = df[df.label == 1].groupby("customer_id").size()
    best = np.mean(np.minimum(per, k) / per)
    perfect = precision_recall_at_k(cust, y, y.astype(float), k)
    assert perfect[1] == pytest.approx(best)
    assert perfect[1] >= pr[1] - 1e-12 and perfect[0] >= pr[0] - 1e-12


@quick
@given(frames, st.integers(1, 8))
def test_oracle_margin_lift_at_least_one_and_constant_score_is_one(
    df: pd.DataFrame, k: int
) -> None:
    cust, y, _, m = _cols(df)
    oracle = margin_lift_at_k(cust, y, y * m, m, k)
    if oracle is None:
        assert (y * m).sum() == 0
        return
    assert oracle >= 1 - 1e-9
    assert margin_lift_at_k(cust, y, np.zeros(len(y)), m, k) == pytest.approx(1.0)


@quick
@given(frames, st.integers(1, 8), st.randoms(use_true_random=False))
def test_shuffling_rows_changes_no_metric(df: pd.DataFrame, k: int, rnd) -> None:
    shuffled = df.iloc[rnd.sample(range(len(df)), len(df))].reset_index(drop=True)
    a = offline_metrics(df, k, bootstrap=20, seed=3)
    b = offline_metrics(shuffled, k, bootstrap=20, seed=3)
    assert a.keys() == b.keys()
    assert [b[key] for key in a] == pytest.approx(list(a.values()))
    assert diversity(df.customer_id, df.offer_id) == diversity(
        shuffled.customer_id, shuffled.offer_id
    )


def _brute_force(df: pd.DataFrame, k: int) -> tuple[float, float, float]:
    """recommenders' precision/recall@k and the margin lift, customer by customer."""
    prec, rec, top, expected = [], [], 0.0, 0.0
    for _, g in df.groupby("customer_id"):
        g = g.sort_values("score", ascending=False)
        head = g.head(k)
        top += (head.label * head.margin).sum()
        expected += min(k, len(g)) / len(g) * (g.label * g.margin).sum()
        if g.label.sum() > 0:
            prec.append(head.label.sum() / k)
            rec.append(head.label.sum() / g.label.sum())
    return float(np.mean(prec)), float(np.mean(rec)), top / expected


def test_vectorised_metrics_match_a_per_customer_reference() -> None:
    df = _world(5, n_customers=200)  # continuous scores: no ties
    cust, y, s, m = _cols(df)
    p, r, lift = _brute_force(df, 4)
    assert precision_recall_at_k(cust, y, s, 4) == pytest.approx((p, r))
    assert margin_lift_at_k(cust, y, s, m, 4) == pytest.approx(lift)
    assert mean_per_group_auc(df.offer_id, y, s) == pytest.approx(
        np.mean([roc_auc_score(g.label, g.score) for _, g in df.groupby("offer_id")])
    )


def test_rejects_nan_and_bad_k() -> None:
    with pytest.raises(ValueError, match="finite"):
        auc([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="k must be"):
        precision_recall_at_k([1], [1], [0.5], 0)
