"""Serving with exploration, inclusion propensities, margin-aware ranking, migration v3."""

from __future__ import annotations

import sqlite3
from datetime import date

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offerrank.config import Settings
from offerrank.engines.duckdb.engine import DuckDBEngine
from offerrank.errors import OfferrankError
from offerrank.ranking.margin import ranking_key, unit_margins
from offerrank.ranking.rank import rank_within_customer
from offerrank.ranking.serving import (
    choose_lists,
    epsilon_inclusion,
    gumbel_top_k,
    pl_inclusion,
    pl_logits,
    served_top_k,
)
from offerrank.store.results.migrations import migrate

CUST = np.array([1, 1, 1, 1, 2, 2, 2, 3])
OFFER = np.array([10, 11, 12, 13, 10, 11, 12, 10])
KEY = np.array([0.4, 0.3, 0.2, 0.1, 0.5, 0.25, 0.25, 0.9])


def test_pl_inclusion_sums_to_k_per_customer() -> None:
    inc = pl_inclusion(CUST, pl_logits(KEY), 2, 2000, np.random.default_rng(1))
    sums = np.bincount(CUST, weights=inc)[1:]
    # customers 1 and 2 have >= 2 candidates: exactly 2 served; customer 3 has one
    np.testing.assert_allclose(sums, [2.0, 2.0, 1.0])
    assert ((inc > 0) & (inc <= 1)).all()


def test_pl_inclusion_of_top_1_is_the_normalised_weight() -> None:
    inc = pl_inclusion(CUST, pl_logits(KEY), 1, 20_000, np.random.default_rng(2))
    w = KEY[:4] / KEY[:4].sum()
    np.testing.assert_allclose(inc[:4], w, atol=0.015)


def test_gumbel_top_k_serves_k_distinct_positions_at_the_estimated_rates() -> None:
    rng = np.random.default_rng(3)
    logits = pl_logits(KEY)
    hits = np.zeros(KEY.size)
    for _ in range(3000):  # a loop over repeated draws, not over rows
        pos = gumbel_top_k(CUST, OFFER, logits, 2, rng)
        for c in (1, 2):
            assert sorted(pos[(c == CUST) & (pos > 0)].tolist()) == [1, 2]
        hits += pos > 0
    inc = pl_inclusion(CUST, logits, 2, 3000, np.random.default_rng(4))
    np.testing.assert_allclose(hits / 3000, inc, atol=0.04)


def test_epsilon_inclusion_is_exact() -> None:
    rank = rank_within_customer(CUST, OFFER, KEY)
    inc = epsilon_inclusion(CUST, rank, 2, 0.2)
    # customer 1: 4 candidates, greedy top 2 = offers 10, 11
    np.testing.assert_allclose(inc[:4], [0.8 + 0.2 * 0.5, 0.8 + 0.1, 0.1, 0.1])
    # customer 2: ties at 0.25 broken to the lower offer id (11)
    np.testing.assert_allclose(inc[4:7], [0.8 + 0.2 * 2 / 3, 0.8 + 0.2 * 2 / 3, 0.2 * 2 / 3])
    assert inc[7] == pytest.approx(1.0)


def test_epsilon_serving_explores_at_rate_epsilon() -> None:
    n = 4000
    cust = np.repeat(np.arange(n), 4)
    offer = np.tile(np.arange(4), n)
    key = np.tile([4.0, 3.0, 2.0, 1.0], n)
    s = choose_lists(cust, offer, key, 1, mode="epsilon", epsilon=0.3, rng=np.random.default_rng(5))
    assert np.bincount(cust, weights=s.position > 0).max() == 1
    best_share = (s.position[offer == 0] > 0).mean()
    assert best_share == pytest.approx(0.7 + 0.3 / 4, abs=0.03)


@settings(max_examples=30, deadline=None)
@given(st.permutations(list(range(KEY.size))))
def test_greedy_serving_ignores_input_order(perm: list[int]) -> None:
    p = np.array(perm)
    a = choose_lists(CUST, OFFER, KEY, 2)
    b = choose_lists(CUST[p], OFFER[p], KEY[p], 2)
    np.testing.assert_array_equal(a.position[p], b.position)
    np.testing.assert_array_equal(a.inclusion[p], b.inclusion)


def test_served_top_k_records_propensities() -> None:
    scores = KEY / 2
    greedy = served_top_k(CUST, OFFER, scores, KEY, Settings(top_k=2), date(2026, 2, 16))
    assert greedy.column("propensity").to_pylist() == [1.0] * 5
    assert greedy.column("offer_id").to_pylist() == [10, 11, 10, 11, 10]
    assert greedy.column("score").to_pylist() == pytest.approx([0.2, 0.15, 0.25, 0.125, 0.45])
    s = Settings(top_k=2, serving="plackett_luce", propensity_draws=500)
    pl = served_top_k(CUST, OFFER, scores, KEY, s, date(2026, 2, 16))
    again = served_top_k(CUST, OFFER, scores, KEY, s, date(2026, 2, 16))
    assert pl.equals(again)  # seeded by (serving_seed, date): reproducible
    assert pl.num_rows == 5
    assert all(0 < p <= 1 for p in pl.column("propensity").to_pylist())


def test_settings_refuse_unknown_modes() -> None:
    with pytest.raises(ValueError):
        Settings(serving="softmax")
    with pytest.raises(ValueError):
        Settings(rank_by="revenue")


def test_margin_ranking_changes_the_order_as_hand_computed() -> None:
    prob = np.array([0.30, 0.20, 0.10])
    margin = np.array([1.0, 2.0, 5.0])  # expected margins 0.30, 0.40, 0.50
    cust, offer = np.ones(3, dtype=np.int64), np.array([1, 2, 3])
    by_p = rank_within_customer(cust, offer, ranking_key(prob, margin, "probability"))
    by_m = rank_within_customer(cust, offer, ranking_key(prob, margin, "expected_margin"))
    assert by_p.tolist() == [1, 2, 3]
    assert by_m.tolist() == [3, 2, 1]
    with pytest.raises(OfferrankError):
        ranking_key(prob, None, "expected_margin")


def test_unit_margin_is_net_of_the_discount() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE products (product_id INT, category TEXT, list_price DOUBLE, unit_cost DOUBLE)"
    )
    con.execute("INSERT INTO products VALUES (1, 'a', 10.0, 6.0), (2, 'b', 4.0, 3.9)")
    con.execute(
        "CREATE TABLE offers (offer_id INT, product_id INT, discount_pct DOUBLE,"
        " target_business_type TEXT)"
    )
    con.execute("INSERT INTO offers VALUES (7, 1, 0.25, NULL), (8, 2, 0.10, 'hotel')")
    # 10 * 0.75 - 6 = 1.5 ; 4 * 0.9 - 3.9 = -0.3 (sold below cost)
    engine = DuckDBEngine(Settings(), con)
    np.testing.assert_allclose(unit_margins(engine, np.array([8, 7, 7])), [-0.3, 1.5, 1.5])
    with pytest.raises(OfferrankError, match="unit margin unknown"):
        unit_margins(engine, np.array([9]))


def test_migration_v3_adds_a_nullable_propensity(tmp_path) -> None:  # noqa: ANN001
    con = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    assert 3 in migrate(con)
    cols = {r[1]: r for r in con.execute("PRAGMA table_info(recommendations)")}
    assert "propensity" in cols and cols["propensity"][3] == 0  # notnull = 0
    assert migrate(con) == []
