"""Reasons a customer can read: the attribution behind them, the choice, the sentences, and
what a daily run stores and `explain` shows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import offerrank.cli.inspect  # noqa: F401  (registers explain)
from explained_run import DAYS, copy_world
from offerrank.cli.main import app
from offerrank.delivery import attribution
from offerrank.delivery.attribution import leaf_tables, path_contributions, served_contributions
from offerrank.delivery.offers import OfferDetails
from offerrank.delivery.reasons import (
    BY_CODE,
    CODES,
    REASON_FEATURES,
    choose_reasons,
    parse_codes,
    reason_text,
)
from offerrank.ranking.partition import served_rows
from offerrank.training.models import LightGBMModel, fit_logistic, sigmoid

N_FEATURES = 5


def _xy(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    y = (rng.random(n) < sigmoid(X[:, 0] - X[:, 1] * X[:, 2] - 1.5)).astype(int)
    return X, y


def _booster(leaves: int = 8, rounds: int = 25, **extra: object) -> lgb.Booster:
    X, y = _xy()
    params = {
        "objective": "binary",
        "num_leaves": leaves,
        "verbose": -1,
        "num_threads": 1,
        "seed": 1,
        **extra,
    }
    return lgb.train(params, lgb.Dataset(X, y), num_boost_round=rounds)


BOOSTER = _booster()
ALL = np.arange(N_FEATURES)


@settings(deadline=None, max_examples=40)
@given(
    st.lists(
        st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=N_FEATURES, max_size=N_FEATURES),
        min_size=1,
        max_size=30,
    )
)
def test_path_attribution_sums_to_the_log_odds_with_treeshaps_bias(rows: list[list[float]]):
    X = np.array(rows)
    contrib = path_contributions(BOOSTER, X, ALL)
    shap = BOOSTER.predict(X, pred_contrib=True)
    bias = leaf_tables(BOOSTER).expected_value
    assert bias == pytest.approx(shap[0, -1], abs=1e-12)  # the same expected value
    np.testing.assert_allclose(
        contrib.sum(axis=1) + bias, BOOSTER.predict(X, raw_score=True), atol=1e-9
    )


def test_grouping_trees_changes_no_contribution(monkeypatch: pytest.MonkeyPatch) -> None:
    X = _xy(300, seed=3)[0]
    grouped = path_contributions(BOOSTER, X, ALL)
    monkeypatch.setattr(attribution, "GROUP_TABLE_ROWS", 1)  # one tree per gather
    np.testing.assert_allclose(path_contributions(BOOSTER, X, ALL), grouped, atol=1e-12)
    monkeypatch.setattr(attribution, "CHUNK_ROWS", 7)  # chunks of pairs: the same again
    np.testing.assert_allclose(
        path_contributions(BOOSTER, X, ALL[[4, 0]]), grouped[:, [4, 0]], atol=1e-12
    )


def test_without_interactions_it_equals_treeshap() -> None:
    """Trees of one split credit one feature each: both attributions are then the same."""
    stumps = _booster(leaves=2, rounds=40)
    X = _xy(200, seed=5)[0]
    shap = stumps.predict(X, pred_contrib=True)[:, :-1]
    np.testing.assert_allclose(path_contributions(stumps, X, ALL), shap, atol=1e-9)


def test_a_constant_tree_credits_no_feature() -> None:
    flat = _booster(rounds=3, min_data_in_leaf=100_000)  # every tree is a single leaf
    X = _xy(20)[0]
    assert np.all(path_contributions(flat, X, ALL) == 0)
    assert leaf_tables(flat).expected_value == pytest.approx(flat.predict(X[:1], raw_score=True)[0])


def test_logistic_regression_contributions_are_its_exact_ones() -> None:
    X, y = _xy()
    lr = fit_logistic(X, y, seed=1)
    np.testing.assert_allclose(
        served_contributions(lr, X[:50], ALL[[2, 0]]), lr.contributions(X[:50])[:, [2, 0]]
    )
    model = LightGBMModel(BOOSTER)
    assert served_contributions(model, X[:0], ALL).shape == (0, N_FEATURES)


def _pairs(*rows: dict[str, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """contributions and values (pairs x REASON_FEATURES) from {feature: (contribution, value)}."""
    contrib = np.full((len(rows), len(REASON_FEATURES)), -0.01)
    values = np.zeros((len(rows), len(REASON_FEATURES)))
    values[:, REASON_FEATURES.index("days_since_last_cat_purchase")] = 91  # never bought
    for i, row in enumerate(rows):
        for feature, (c, v) in row.items():
            contrib[i, REASON_FEATURES.index(feature)] = c
            values[i, REASON_FEATURES.index(feature)] = v
    return contrib, values


def test_reasons_are_the_strongest_true_positive_contributions() -> None:
    contrib, values = _pairs(
        {
            "bought_product_before": (0.9, 1),
            "category_affinity_score": (0.6, 0.3),
            "days_since_last_cat_purchase": (0.35, 5),
            "discount_depth": (0.37, 0.25),
        },
        {"bought_product_before": (-0.2, 1)},  # nothing positive: the discount alone
        {"category_affinity_score": (2.0, 0.01), "promo_affinity": (0.1, 0.5)},  # 1 % is no habit
        {"business_type_match": (0.5, 1), "is_own_brand": (0.2, 1)},
        {"business_type_match": (0.5, 1), "is_own_brand": (0.2, 1)},
        {
            "frequency": (0.3, 12),
            "days_until_expiry": (0.3, 2),
            "price_sensitivity_match": (0.3, 0.5),
            "historical_redemption_rate": (0.3, 0.1),
        },  # a four-way tie: feature order decides
    )
    targeted = np.array([False, False, False, False, True, False])
    chosen = choose_reasons(contrib, values, targeted)
    got = [parse_codes(t) for t in chosen.as_json().to_pylist()]
    assert got == [
        ["bought_before", "category_favourite", "discount"],
        ["discount"],
        ["promotions"],
        ["own_brand"],  # matches the business type, but the offer targets no one in particular
        ["for_your_business", "own_brand"],
        ["price_range", "popular", "ends_soon"],
    ]


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_every_pair_gets_one_to_three_distinct_known_reasons(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    contrib = rng.normal(size=(n, len(REASON_FEATURES)))
    values = rng.choice([0.0, 0.05, 0.5, 1.0, 3.0, 20.0, 91.0], size=(n, len(REASON_FEATURES)))
    codes = [
        parse_codes(t)
        for t in choose_reasons(contrib, values, rng.random(n) < 0.5).as_json().to_pylist()
    ]
    for row in codes:
        assert 1 <= len(row) <= 3 and len(set(row)) == len(row) and set(row) <= set(BY_CODE)
    assert {c.code for c in CODES} == set(BY_CODE)


OFFER = OfferDetails(
    7, 70, "dry_food", 0.25, "2026-02-01", "2026-02-19", "restaurant", 4.0, 3, True
)


@pytest.mark.parametrize(
    ("code", "day", "text"),
    [
        ("category_favourite", "2026-02-17", "Dry food is a big part of what you buy"),
        ("category_last_week", "2026-02-17", "You bought dry food in the last week"),
        ("discount", "2026-02-17", "Save 25 % on this product"),
        ("ends_soon", "2026-02-17", "The offer ends in 2 days"),
        ("ends_soon", "2026-02-18", "The offer ends tomorrow"),
        ("ends_soon", "2026-02-19", "The offer ends today"),
        ("for_your_business", "2026-02-17", "An offer for restaurant customers like you"),
        ("no_such_code", "2026-02-17", "no_such_code"),
    ],
)
def test_sentences(code: str, day: str, text: str) -> None:
    assert reason_text(code, OFFER, day) == text


def test_sentences_without_a_target_or_an_offer() -> None:
    untargeted = OfferDetails(
        7, 70, "dairy", 0.125, "2026-02-01", "2026-02-19", None, 4.0, 1, False
    )
    assert reason_text("for_your_business", untargeted, "2026-02-17") == (
        "Chosen for customers like you"
    )
    assert reason_text("discount", untargeted, "2026-02-17") == "Save 12.5 % on this product"
    assert untargeted.label == "12.5 % off dairy (product 70, entry)"
    assert reason_text("category_often", None, "2026-02-17") == "You often buy this category"
    assert parse_codes(None) == [] and parse_codes('["a", "b"]') == ["a", "b"]


@settings(deadline=None, max_examples=50)
@given(st.integers(1, 60), st.integers(0, 2**32 - 1), st.booleans())
def test_served_rows_finds_each_served_pair(n_customers: int, seed: int, huge: bool) -> None:
    rng = np.random.default_rng(seed)
    offset = 2**62 if huge else 0  # ids too large for one integer key: the text key
    pairs = {(int(c) + offset, int(o)) for c, o in rng.integers(0, [n_customers, 30], (200, 2))}
    cust, offer = (np.array(x, dtype=np.int64) for x in zip(*sorted(pairs), strict=True))
    order = rng.permutation(cust.size)
    feats = pa.table({"customer_id": cust[order], "offer_id": offer[order]})
    ranks = np.asarray(rng.permutation(cust.size) + 1)
    pick = np.flatnonzero(rng.random(cust.size) < 0.4)
    served = feats.take(pa.array(rng.permutation(pick)))
    c, o = feats.column("customer_id").to_numpy(), feats.column("offer_id").to_numpy()
    no_ranks = np.full(c.size, 10**9)  # nothing ranked: the lookup
    rows = served_rows(c, o, no_ranks, served, 5)
    assert np.array_equal(feats.take(pa.array(rows)).to_pylist(), served.to_pylist())
    top = np.flatnonzero(ranks <= 5)
    greedy = feats.take(pa.array(top[np.lexsort((ranks[top], c[top]))]))
    fast = served_rows(c, o, ranks, greedy, 5)  # greedy: the ranks, checked
    assert np.array_equal(fast, served_rows(c, o, no_ranks, greedy, 5))


@pytest.fixture(scope="module")
def world(two_day_run) -> Path:
    return two_day_run[0].db_path.parent


def test_a_run_stores_reasons_for_every_served_pair(two_day_run) -> None:
    s, first, second = two_day_run
    con = sqlite3.connect(s.db_path)
    rows = con.execute("SELECT run_date, reason_codes FROM recommendations").fetchall()
    con.close()
    assert {r[0] for r in rows} == {d.isoformat() for d in DAYS}
    for _, text in rows:
        codes = json.loads(text)
        assert 1 <= len(codes) <= 3 and set(codes) <= set(BY_CODE)
    assert first.metrics["duration_reasons_s"] > 0 and second.metrics["duration_reasons_s"] > 0


def test_explain_names_offers_and_reads_well_in_a_pipe(world: Path, tmp_path: Path) -> None:
    settings_ = copy_world(world, tmp_path)
    db, day = str(settings_.db_path), DAYS[1].isoformat()
    customer = (
        sqlite3.connect(db)
        .execute(
            "SELECT customer_id FROM recommendations WHERE run_date = ? AND rank = 3 LIMIT 1",
            (day,),
        )
        .fetchone()[0]
    )
    runner = CliRunner()
    payload = json.loads(
        runner.invoke(
            app, ["--db", db, "--json", "explain", "--date", day, "--customer", str(customer)]
        ).output
    )
    top = payload["top"][0]
    assert {"product_id", "category", "discount_pct", "label", "reasons"} <= set(top)
    assert 1 <= len(top["reasons"]) <= 3 and payload["offer"]["label"] == top["label"]
    plain = runner.invoke(app, ["--db", db, "explain", "--date", day, "--customer", str(customer)])
    assert plain.exit_code == 0, plain.output
    text = plain.output
    assert top["label"] in text and top["reasons"][0] in text
    assert "days_since_last_cat_purchase" in text and "…" not in text  # no truncated names
    assert "┃" not in text and all(line == line.rstrip() for line in text.splitlines())
