"""The `harsh` preset behaves like a supermarket's coupon data: checked on a scaled-down copy.

Weekly books of about 200 coupons delivered on two weekdays, redemptions only of
received coupons, a positive rate of the order of 0.05 %, a base rate that swings
between campaigns, long category names, hundreds of offers running for weeks, and the
constant columns and assumed costs of an imported feed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from offerrank.world.campaigns import inclusion_probabilities
from offerrank.world.domain import GROCERY
from offerrank.world.generate import PRESETS, World, generate_world
from offerrank.world.policy import choose_impressions
from store_shell import one, rows

HARSH = PRESETS["harsh"]
# Fewer households, fewer products and 20 weeks: the same campaigns, books and response.
SMALL_HARSH = HARSH.with_(name="harsh-test", customers=700, products=3_000, days=140)
LABELLED = """
    SELECT i.impression_id, i.customer_id, i.offer_id, i.shown_date, t.p_true, EXISTS (
        SELECT 1 FROM redemptions r WHERE r.customer_id = i.customer_id
        AND r.offer_id = i.offer_id
        AND r.redeemed_date BETWEEN i.shown_date AND date(i.shown_date, '+7 day')) AS y
    FROM impressions i JOIN sim_impression_truth t USING (impression_id)"""


@pytest.fixture(scope="module")
def harsh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("harsh") / "harsh.db"
    generate_world(db, preset=SMALL_HARSH, seed=3)
    return db


def test_positive_rate_is_of_the_order_of_five_in_ten_thousand(harsh: Path) -> None:
    n, positives, mean_p = rows(harsh, f"SELECT COUNT(*), SUM(y), AVG(p_true) FROM ({LABELLED})")[0]
    assert n > 200_000
    assert 2e-4 < mean_p < 1.2e-3  # the truth: stable whatever the draws
    assert 1e-4 < positives / n < 2e-3  # what a pipeline sees


def test_books_hold_about_200_coupons_and_come_on_two_weekdays(harsh: Path) -> None:
    sizes = np.array(
        [
            r[0]
            for r in rows(
                harsh, "SELECT COUNT(*) FROM impressions GROUP BY customer_id, shown_date"
            )
        ]
    )
    assert 180 <= sizes.mean() <= 220
    assert np.percentile(sizes, 5) >= 150
    weekdays = {
        r[0] for r in rows(harsh, "SELECT DISTINCT strftime('%w', shown_date) FROM impressions")
    }
    assert weekdays == {"0", "3"}  # Sunday and Wednesday
    assert one(harsh, "SELECT COUNT(*) FROM impressions WHERE channel IS NOT NULL") == 0


def test_a_coupon_is_redeemed_only_once_received_and_once_per_household(harsh: Path) -> None:
    received: dict[tuple[int, int], list[int]] = {}
    for c, o, day in rows(
        harsh, "SELECT customer_id, offer_id, julianday(shown_date) FROM impressions"
    ):
        received.setdefault((c, o), []).append(day)
    redeemed = rows(
        harsh, "SELECT customer_id, offer_id, julianday(redeemed_date) FROM redemptions"
    )
    assert len(redeemed) > 20
    for c, o, day in redeemed:
        assert any(s <= day <= s + 7 for s in received.get((c, o), [])), (c, o)
    assert len({(c, o) for c, o, _ in redeemed}) == len(redeemed)


def test_the_base_rate_swings_between_campaigns(harsh: Path) -> None:
    by_campaign = rows(
        harsh,
        f"""SELECT c.campaign_id, c.rate, AVG(l.p_true) FROM ({LABELLED}) l
            JOIN sim_offer_campaigns USING (offer_id) JOIN sim_campaigns c USING (campaign_id)
            GROUP BY 1 HAVING COUNT(*) > 20000 ORDER BY 1""",
    )
    assert len(by_campaign) >= 3
    rates = np.array([r for _, r, _ in by_campaign])
    assert np.all(np.abs(np.log(rates[1:] / rates[:-1])) > np.log(1.5))  # high, low, high...
    mean_p = np.array([p for *_, p in by_campaign])
    assert mean_p.max() / mean_p.min() > 1.5


def test_categories_are_many_and_long_and_the_feed_is_harsh(harsh: Path) -> None:
    names = [r[0] for r in rows(harsh, "SELECT DISTINCT category FROM products")]
    assert len(names) == len(GROCERY.categories) > 12
    assert all(40 <= len(n) <= 60 for n in names)
    assert one(harsh, "SELECT COUNT(DISTINCT is_own_brand) FROM products") == 1
    assert one(harsh, "SELECT COUNT(DISTINCT store_id) FROM orders") == 1
    assert one(harsh, "SELECT COUNT(DISTINCT business_type) FROM customers") == 1
    low, high = rows(
        harsh, "SELECT MIN(unit_cost / list_price), MAX(unit_cost / list_price) FROM products"
    )[0]
    assert 0.65 < low <= high < 0.75  # assumed: 70 % of the list price, rounded to the cent
    assert one(harsh, "SELECT MAX(quantity) FROM order_items") >= 500


def test_offers_run_for_weeks_hundreds_at_a_time_and_outlive_the_data(harsh: Path) -> None:
    days = one(harsh, "SELECT MIN(julianday(end_date) - julianday(start_date)) FROM offers")
    assert days >= 7 * HARSH.campaigns.weeks[0] - 1
    active = one(
        harsh,
        "SELECT COUNT(*) FROM offers WHERE start_date <= '2026-02-16' AND end_date >= '2026-02-16'",
    )
    assert active >= 200
    assert one(harsh, "SELECT COUNT(*) FROM offers WHERE end_date > '2026-02-28'") > 0
    no_history = one(
        harsh,
        """SELECT COUNT(DISTINCT i.customer_id) FROM impressions i WHERE NOT EXISTS (
               SELECT 1 FROM orders o WHERE o.customer_id = i.customer_id
               AND o.order_date < i.shown_date)""",
    )
    assert no_history > 0  # households with no history receive books too


def test_a_harsh_world_reopened_midway_continues_exactly(tmp_path: Path) -> None:
    short = SMALL_HARSH.with_(customers=300, products=1_000)
    whole = generate_world(tmp_path / "whole.db", preset=short, seed=4, start=date(2026, 1, 1))
    stepped = tmp_path / "stepped.db"
    World.create(stepped, short, 4, whole.start, whole.end).close()
    with World.open(stepped) as world:
        world.run(until=date(2026, 1, 25))
    with World.open(stepped) as world:
        world.step()
    with World.open(stepped) as world:
        world.run()
    tables = [
        "offers",
        "impressions",
        "orders",
        "order_items",
        "redemptions",
        "sim_impression_truth",
        "sim_campaigns",
        "sim_campaign_households",
        "sim_offer_campaigns",
    ]
    for table in tables:
        assert rows(stepped, f"SELECT * FROM {table} ORDER BY rowid") == rows(
            tmp_path / "whole.db", f"SELECT * FROM {table} ORDER BY rowid"
        ), table


@pytest.mark.parametrize("size", [1, 3, 50])
def test_book_probabilities_fill_the_book_and_never_exceed_one(size: int) -> None:
    rng = np.random.default_rng(size)
    weight = rng.lognormal(0.0, 2.0, (40, 30)) * (rng.random((40, 30)) < 0.8)
    prob = inclusion_probabilities(weight, size)
    assert np.all((prob >= 0) & (prob <= 1 + 1e-12))
    expected = np.minimum(size, (weight > 0).sum(axis=1))
    assert np.allclose(prob.sum(axis=1), expected)
    assert np.all(prob[weight == 0] == 0)


def test_the_daily_policy_is_the_same_drawn_by_blocks_of_rows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Blocks of rows must draw what the whole grid draws, to the last bit."""
    from offerrank.world import policy

    preset = PRESETS["tiny"].with_(show_share=0.9)
    with World.create(tmp_path / "w.db", preset, 2, date(2026, 1, 1), date(2026, 2, 1)) as world:
        world.run(until=date(2026, 1, 20))
        s = world.state

        def shown(block: int) -> tuple[np.ndarray, ...]:
            monkeypatch.setattr(policy, "ROWS_PER_BLOCK", block)
            got = choose_impressions(
                s.preset,
                s.seed,
                s.next_day,
                s.population,
                s.catalogue,
                s.offers,
                s.lines,
                s.shown.keys,
            )
            return got.customer, got.offer_pos, got.propensity

        whole = shown(10**9)
        assert whole[0].size > 500
        for block in (1, 7, 100):
            for a, b in zip(shown(block), whole, strict=True):
                assert np.array_equal(a, b)
