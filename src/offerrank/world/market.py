"""What the retailer puts on the market each day: personal offers and store-wide promotions.

Both arrive as a steady daily stream (a Poisson number starting each day), so the set
of active offers on any day is stable in size but always changing in content. Offers
are contract rows; store-wide promotions only show up as discounted promo lines.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from offerrank.store.db import table_exists
from offerrank.world.columns import Columns
from offerrank.world.population import Catalogue
from offerrank.world.presets import (
    OFFER_WEEKS,
    STORE_PROMO_DAYS,
    Preset,
    iso_days,
    rng_for,
)
from offerrank.world.storage import fetch_columns

STREAM_OFFERS, STREAM_PROMOS = 1, 2
TARGETED_SHARE = 0.3
MEAN_OFFER_DAYS = 7.0 * OFFER_WEEKS.mean()


@dataclass
class Offers(Columns):
    """Offers as parallel arrays; `target` is a business-type index or -1 for everyone,
    `campaign` the id of the coupon campaign that brought the offer, or -1."""

    offer_id: np.ndarray
    product: np.ndarray
    start: np.ndarray
    end: np.ndarray
    discount: np.ndarray
    target: np.ndarray
    campaign: np.ndarray

    @classmethod
    def empty(cls) -> Offers:
        ints = np.zeros(0, dtype=np.int64)
        return cls(ints, ints, ints, ints, np.zeros(0), ints, ints)

    def active_on(self, day: int) -> Offers:
        return self.where((self.start <= day) & (self.end >= day))

    def positions(self, offer_ids: np.ndarray) -> np.ndarray:
        """Row positions of the given ids (offer ids are dense and increasing)."""
        pos = np.searchsorted(self.offer_id, offer_ids)
        pos = np.minimum(pos, max(len(self) - 1, 0))
        if len(self) == 0 or np.any(self.offer_id[pos] != offer_ids):
            missing = np.setdiff1d(offer_ids, self.offer_id)[:5].tolist()
            raise KeyError(f"unknown offer ids: {missing}")
        return pos

    def columns(self, business_types: tuple[str, ...]) -> dict[str, object]:
        """Contract columns; `target` indexes `business_types`."""
        target = np.array(business_types + (None,), dtype=object)[self.target]
        return {
            "offer_id": self.offer_id,
            "product_id": self.product + 1,
            "start_date": iso_days(self.start),
            "end_date": iso_days(self.end),
            "discount_pct": self.discount,
            "target_business_type": target,
        }


def offer_products(
    rng: np.random.Generator, k: int, catalogue: Catalogue, concentration: float = 0.7
) -> np.ndarray:
    """Products of `k` offers: popular ones more often, by popularity ** `concentration`
    (below 1: less than in proportion)."""
    weight = catalogue.popularity**concentration
    return rng.choice(catalogue.size, k, p=weight / weight.sum())


def offer_discounts(rng: np.random.Generator, k: int) -> np.ndarray:
    """5-40 % off, mostly 10-25 %."""
    return np.clip(np.round(0.05 + 0.35 * rng.beta(1.6, 2.6, k), 2), 0.05, 0.40)


def draw_offers(preset: Preset, seed: int, day: int, first_id: int, catalogue: Catalogue) -> Offers:
    """Offers starting on `day`: popular products, 5-40 % off, one to four weeks, some targeted."""
    rng = rng_for(seed, day, STREAM_OFFERS)
    k = int(rng.poisson(preset.active_offers / MEAN_OFFER_DAYS))
    product = offer_products(rng, k, catalogue)
    weeks = rng.choice(OFFER_WEEKS, k)
    discount = offer_discounts(rng, k)
    types = preset.facts
    targeted = rng.random(k) < TARGETED_SHARE
    target = np.where(targeted, rng.choice(len(types.business_types), k, p=types.type_share), -1)
    return Offers(
        offer_id=np.arange(first_id, first_id + k, dtype=np.int64),
        product=product.astype(np.int64),
        start=np.full(k, day, dtype=np.int64),
        end=(day + 7 * weeks - 1).astype(np.int64),
        discount=discount,
        target=target.astype(np.int64),
        campaign=np.full(k, -1, dtype=np.int64),
    )


def load_offers(con: sqlite3.Connection, business_types: tuple[str, ...]) -> Offers:
    """The offers of a saved world (a store written before campaigns existed has none)."""
    campaign = (
        "(SELECT campaign_id FROM sim_offer_campaigns c WHERE c.offer_id = o.offer_id)"
        if table_exists(con, "sim_offer_campaigns")
        else "NULL"
    )
    c = fetch_columns(
        con,
        "SELECT o.offer_id, o.product_id - 1 AS product,"
        " CAST(julianday(substr(o.start_date, 1, 10)) - 2440587.5 AS INTEGER) AS start,"
        " CAST(julianday(substr(o.end_date, 1, 10)) - 2440587.5 AS INTEGER) AS end_day,"
        " o.discount_pct, COALESCE(o.target_business_type, '') AS target_business_type,"
        f" COALESCE({campaign}, -1) AS campaign FROM offers o ORDER BY o.offer_id",
    )
    if c["offer_id"].size == 0:
        return Offers.empty()
    lookup = {"": -1, **{name: i for i, name in enumerate(business_types)}}
    uniq, inverse = np.unique(c["target_business_type"].astype(str), return_inverse=True)
    target = np.array([lookup.get(u, -2) for u in uniq], dtype=np.int64)[inverse].reshape(-1)
    return Offers(
        c["offer_id"].astype(np.int64),
        c["product"].astype(np.int64),
        c["start"].astype(np.int64),
        c["end_day"].astype(np.int64),
        c["discount_pct"].astype(float),
        target,
        c["campaign"].astype(np.int64),
    )


@dataclass
class StorePromos(Columns):
    """Store-wide promotions: a product sold at a discount to everyone for a week."""

    product: np.ndarray
    start: np.ndarray
    end: np.ndarray
    discount: np.ndarray

    @classmethod
    def empty(cls) -> StorePromos:
        ints = np.zeros(0, dtype=np.int64)
        return cls(ints, ints, ints, np.zeros(0))

    def since(self, day: int) -> StorePromos:
        return self.where(self.end >= day)

    def prices_on(self, day: int, catalogue: Catalogue) -> np.ndarray:
        """Discount per product index on `day` (0 when not on promotion; deepest one wins)."""
        on = (self.start <= day) & (self.end >= day)
        discount = np.zeros(catalogue.size)
        np.maximum.at(discount, self.product[on], self.discount[on])
        return discount

    def columns(self) -> dict[str, object]:
        return {
            "product_id": self.product + 1,
            "start_date": iso_days(self.start),
            "end_date": iso_days(self.end),
            "discount_pct": self.discount,
        }


def draw_store_promos(preset: Preset, seed: int, day: int, catalogue: Catalogue) -> StorePromos:
    rng = rng_for(seed, day, STREAM_PROMOS)
    k = int(rng.poisson(catalogue.size * preset.store_promo_share / STORE_PROMO_DAYS))
    product = rng.choice(catalogue.size, k, p=catalogue.popularity / catalogue.popularity.sum())
    return StorePromos(
        product.astype(np.int64),
        np.full(k, day, dtype=np.int64),
        np.full(k, day + STORE_PROMO_DAYS - 1, dtype=np.int64),
        np.round(rng.uniform(0.10, 0.30, k), 2),
    )


def load_store_promos(con: sqlite3.Connection, since_day: int) -> StorePromos:
    c = fetch_columns(
        con,
        "SELECT product_id - 1 AS product,"
        " CAST(julianday(start_date) - 2440587.5 AS INTEGER) AS start,"
        " CAST(julianday(end_date) - 2440587.5 AS INTEGER) AS end_day, discount_pct"
        " FROM sim_store_promos ORDER BY rowid",
    )
    if c["product"].size == 0:
        return StorePromos.empty()
    promos = StorePromos(
        c["product"].astype(np.int64),
        c["start"].astype(np.int64),
        c["end_day"].astype(np.int64),
        c["discount_pct"].astype(float),
    )
    return promos.since(since_day)
