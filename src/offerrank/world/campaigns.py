"""Coupon campaigns: how a supermarket markets (the `harsh` preset).

Instead of a daily stream of offers shown to a few customers each, the retailer runs
campaigns. One starts every `every_days` (aligned on the calendar, so any day knows
whether a campaign starts on it) and runs whole weeks; its coupons are offers that run
as long as it does, so hundreds are active on any day. It targets a share of the
households signed up by its start, heavier shoppers more often, and on its delivery
weekday hands each of them a book of about `book` of its coupons, leaning towards the
categories the household buys: the impressions, on one or two weekdays only. A coupon
can be redeemed only once it was received, and once per household.

Campaigns alternate between a high and a low base rate (`swing` apart, with some
noise): the week-to-week positive rate moves, and a model's calibration must follow.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from offerrank.store.db import table_exists
from offerrank.world.columns import Columns, distinct
from offerrank.world.history import History, LineBuffer, summarize
from offerrank.world.market import Offers, offer_discounts, offer_products
from offerrank.world.orders import weekday
from offerrank.world.policy import PairSet, Shown, pair_keys
from offerrank.world.population import Catalogue, Population
from offerrank.world.presets import Preset, iso_days, rng_for
from offerrank.world.storage import Batch, fetch_columns, table_of

STREAM_CAMPAIGN, STREAM_BOOKS = 6, 7
BOOK_FLOOR = 0.15  # weight of a coupon in a category the household never buys (vs its share)
# Brands fund coupons for the same popular products campaign after campaign, so a
# product's own redemption history says something about its next coupon.
COUPON_CONCENTRATION = 1.5
RATE_NOISE = 0.1  # spread of a campaign's log base rate around its high or low level


@dataclass
class Campaigns(Columns):
    """Campaigns as parallel arrays; `rate` multiplies the odds of redeeming its coupons."""

    campaign_id: np.ndarray
    start: np.ndarray
    end: np.ndarray
    weekday: np.ndarray
    rate: np.ndarray

    @classmethod
    def empty(cls) -> Campaigns:
        ints = np.zeros(0, dtype=np.int64)
        return cls(ints, ints, ints, ints, np.zeros(0))

    def active_on(self, day: int) -> Campaigns:
        return self.where((self.start <= day) & (self.end >= day))

    def rates(self, campaign: np.ndarray) -> np.ndarray | None:
        """The rate of each offer's campaign (1 for an offer of none); None in a world
        without campaigns, whose probabilities never had the term."""
        if len(self) == 0:
            return None
        at = np.minimum(np.searchsorted(self.campaign_id, campaign), len(self) - 1)
        return np.where(self.campaign_id[at] == campaign, self.rate[at], 1.0)


@dataclass
class Targets(Columns):
    """The households (customer index) each campaign targets, campaign by campaign."""

    campaign_id: np.ndarray
    customer: np.ndarray

    @classmethod
    def empty(cls) -> Targets:
        ints = np.zeros(0, dtype=np.int64)
        return cls(ints, ints)


@dataclass
class Launch:
    """What a day's campaign start adds: the campaign, its households and its coupons."""

    campaigns: Campaigns
    targets: Targets
    offers: Offers

    @classmethod
    def none(cls) -> Launch:
        return cls(Campaigns.empty(), Targets.empty(), Offers.empty())

    def extend(self, other: Launch) -> Launch:
        return Launch(
            self.campaigns.extend(other.campaigns),
            self.targets.extend(other.targets),
            self.offers.extend(other.offers),
        )

    def rows(self, batch: Batch) -> Batch:
        """The `sim_*` rows that let a reopened world know its campaigns."""
        c, t, o = self.campaigns, self.targets, self.offers.where(self.offers.campaign >= 0)
        batch.rows(
            "sim_campaigns",
            table_of(
                {
                    "campaign_id": c.campaign_id,
                    "start_date": iso_days(c.start),
                    "end_date": iso_days(c.end),
                    "weekday": c.weekday,
                    "rate": c.rate,
                }
            ),
        )
        batch.rows(
            "sim_campaign_households",
            table_of({"campaign_id": t.campaign_id, "customer_id": t.customer + 1}),
        )
        batch.rows(
            "sim_offer_campaigns",
            table_of({"offer_id": o.offer_id, "campaign_id": o.campaign}),
        )
        return batch


def launch(
    preset: Preset, seed: int, day: int, first_offer: int, pop: Population, catalogue: Catalogue
) -> Launch:
    """The campaign that starts on `day`, if one does."""
    plan = preset.campaigns
    assert plan is not None
    if day % plan.every_days:
        return Launch.none()
    ordinal = day // plan.every_days
    rng = rng_for(seed, day, STREAM_CAMPAIGN)
    weeks = int(rng.integers(plan.weeks[0], plan.weeks[1] + 1))
    delivery = int(rng.choice(np.array(plan.weekdays)))
    level = 0.5 if ordinal % 2 == 0 else -0.5
    rate = float(np.exp(level * np.log(plan.swing) + rng.normal(0.0, RATE_NOISE)))
    known = np.flatnonzero(pop.signup_day <= day)
    share = rng.uniform(*plan.households)
    size = min(int(round(share * known.size)), known.size)
    weight = pop.order_rate[known]
    households = np.sort(rng.choice(known, size, replace=False, p=weight / weight.sum()))
    k = int(rng.poisson(plan.coupons))
    product = offer_products(rng, k, catalogue, COUPON_CONCENTRATION)
    discount = offer_discounts(rng, k)
    end = day + 7 * weeks - 1
    campaign = np.array([ordinal], dtype=np.int64)
    return Launch(
        Campaigns(
            campaign, np.array([day]), np.array([end]), np.array([delivery]), np.array([rate])
        ),
        Targets(np.full(size, ordinal, dtype=np.int64), households.astype(np.int64)),
        Offers(
            offer_id=np.arange(first_offer, first_offer + k, dtype=np.int64),
            product=product.astype(np.int64),
            start=np.full(k, day, dtype=np.int64),
            end=np.full(k, end, dtype=np.int64),
            discount=discount,
            target=np.full(k, -1, dtype=np.int64),
            campaign=np.full(k, ordinal, dtype=np.int64),
        ),
    )


def deliver_books(
    preset: Preset,
    seed: int,
    day: int,
    pop: Population,
    catalogue: Catalogue,
    offers: Offers,
    campaigns: Campaigns,
    targets: Targets,
    lines: LineBuffer,
    redeemed: PairSet,
) -> Shown:
    """Today's books: each household targeted by a campaign delivering today gets each of
    its coupons with probability `propensity` (about `book` in all), never one it redeemed.
    """
    plan = preset.campaigns
    assert plan is not None
    rng = rng_for(seed, day, STREAM_BOOKS)
    today = campaigns.active_on(day)
    # no book on a campaign's last day: its coupons could be redeemed that day only, and
    # the redemption would fall within seven days of the book before as well
    today = today.where((today.weekday == weekday(day)) & (today.end > day))
    mine = np.isin(targets.campaign_id, today.campaign_id)
    households = targets.customer[mine]
    households = distinct(households[pop.signup_day[households] <= day])
    hist = summarize(lines, households, day, catalogue)
    parts = [
        _book(plan.book, c, targets, offers, pop, catalogue, hist, day, redeemed, rng)
        for c in today.campaign_id.tolist()
    ]
    cust = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    pos = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    prob = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    return Shown(cust, pos, prob, np.full(cust.size, None, dtype=object), hist)


def _book(
    book: int,
    campaign: int,
    targets: Targets,
    offers: Offers,
    pop: Population,
    catalogue: Catalogue,
    hist: History,
    day: int,
    redeemed: PairSet,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer, offer row, inclusion probability) of one campaign's books of the day."""
    households = targets.customer[targets.campaign_id == campaign]
    households = households[pop.signup_day[households] <= day]
    coupons = np.flatnonzero(offers.campaign == campaign)
    local = np.searchsorted(hist.customers, households)
    share = (
        hist.category_lines[local][:, catalogue.category[offers.product[coupons]]]
        / np.maximum(hist.n_lines[local], 1)[:, None]
    )
    weight = BOOK_FLOOR + share
    keys = pair_keys(
        np.repeat(households, coupons.size), np.tile(offers.offer_id[coupons], households.size)
    )
    weight[redeemed.contains(keys).reshape(weight.shape)] = 0.0
    prob = inclusion_probabilities(weight, book)
    row, col = np.nonzero(rng.random(weight.shape) < prob)
    return households[row], coupons[col], prob[row, col]


def inclusion_probabilities(weight: np.ndarray, size: int, rounds: int = 20) -> np.ndarray:
    """Per row, probabilities proportional to `weight`, none above 1, summing to `size`
    (or to the number of positive weights, if fewer): cells that would exceed 1 are
    fixed at 1 and the rest of the book is shared again among the others."""
    positive = weight > 0
    fixed = np.zeros(weight.shape, dtype=bool)
    prob = np.zeros(weight.shape)
    for _ in range(rounds):
        free = positive & ~fixed
        room = np.minimum(size, positive.sum(axis=1, keepdims=True)) - fixed.sum(
            axis=1, keepdims=True
        )
        total = np.where(free, weight, 0.0).sum(axis=1, keepdims=True)
        prob = np.where(
            fixed, 1.0, np.where(free, weight * room / np.where(total > 0, total, 1.0), 0.0)
        )
        over = prob > 1.0
        if not over.any():
            break
        fixed |= over
    return np.minimum(prob, 1.0)


def load_campaigns(con: sqlite3.Connection) -> tuple[Campaigns, Targets]:
    """The campaigns of a saved world (none in a store written before they existed)."""
    if not table_exists(con, "sim_campaigns"):
        return Campaigns.empty(), Targets.empty()
    c = fetch_columns(
        con,
        "SELECT campaign_id, CAST(julianday(start_date) - 2440587.5 AS INTEGER) AS start,"
        " CAST(julianday(end_date) - 2440587.5 AS INTEGER) AS end_day, weekday, rate"
        " FROM sim_campaigns ORDER BY campaign_id",
    )
    t = fetch_columns(
        con,
        "SELECT campaign_id, customer_id - 1 AS customer FROM sim_campaign_households"
        " ORDER BY campaign_id, customer_id",
    )
    if c["campaign_id"].size == 0:
        return Campaigns.empty(), Targets.empty()
    campaigns = Campaigns(
        c["campaign_id"].astype(np.int64),
        c["start"].astype(np.int64),
        c["end_day"].astype(np.int64),
        c["weekday"].astype(np.int64),
        c["rate"].astype(float),
    )
    if t["campaign_id"].size == 0:
        return campaigns, Targets.empty()
    return campaigns, Targets(t["campaign_id"].astype(np.int64), t["customer"].astype(np.int64))
