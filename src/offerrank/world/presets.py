"""Sizes of the world (presets), how busy its marketing is, and the facts of time.

What kind of retailer a preset simulates (categories, customer types, how they shop)
lives in `world.domain`; the coupon campaigns of the `harsh` preset are described by a
`CampaignPlan`. Every knob has a sane default, so a preset names only what it changes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from offerrank.world.domain import DOMAINS, Domain

DEFAULT_END = date(2026, 2, 28)
HISTORY_DAYS = 90  # how far back customer history drives behaviour (the features' lookback)
LABEL_DAYS = 7  # a redemption happens within [shown, shown + 7]
EPOCH = date(1970, 1, 1)
WORLD_VERSION = 1  # changes whenever a preset and seed no longer give the same world

CHANNELS: tuple[str, ...] = ("app", "email", "print")
OFFER_WEEKS = np.array([1, 2, 3, 4])  # offers run one to four weeks
STORE_PROMO_DAYS = 7


@dataclass(frozen=True)
class CampaignPlan:
    """Coupon campaigns instead of a daily stream of offers and a daily logging policy.

    A campaign starts every `every_days`, runs `weeks` whole weeks and brings about
    `coupons` offers that run as long as it does. It targets a share of the households
    signed up by its start (`households`, drawn per campaign), and on its delivery
    weekday (one of `weekdays`) each of them receives a book of about `book` of its
    coupons: the impressions. Campaigns alternate between a high and a low base rate,
    `swing` apart.
    """

    every_days: int = 42
    weeks: tuple[int, int] = (6, 9)
    coupons: int = 340
    households: tuple[float, float] = (0.08, 0.18)
    book: int = 200
    weekdays: tuple[int, ...] = (2, 6)  # Wednesday, Sunday
    swing: float = 2.0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CampaignPlan:
        """From its JSON form (tuples come back as lists)."""
        fixed: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
        }
        return cls(**fixed)


@dataclass(frozen=True)
class Preset:
    """How big a world is and how busy its marketing is; every knob has a sane default."""

    name: str
    customers: int
    products: int
    days: int
    stores: int = 5
    active_offers: int = 60  # steady-state number of offers active on a day
    show_share: float = 0.10  # share of signed-up customers shown offers on a day
    draws_per_customer: int = 3  # policy draws per shown customer (duplicates collapse)
    base_rate: float = 0.04  # scales the redemption probability (smaller = sparser labels)
    newcomer_share: float = 0.15  # customers who sign up inside the date range
    churn_share: float = 0.15  # customers who stop ordering inside the date range
    store_promo_share: float = 0.04  # share of products on a store-wide promotion
    favourites: int = 24  # products each customer keeps coming back to
    domain: str = "wholesale"  # the kind of retailer (`world.domain.DOMAINS`)
    campaigns: CampaignPlan | None = None  # coupon campaigns instead of daily offers

    @property
    def facts(self) -> Domain:
        return DOMAINS[self.domain]

    @property
    def warmup_days(self) -> int:
        """How far before the first day offers (and campaigns) already started."""
        if self.campaigns is None:
            return 7 * int(OFFER_WEEKS.max())
        return 7 * self.campaigns.weeks[1]

    def default_range(self, end: date | None = None) -> tuple[date, date]:
        last = end or DEFAULT_END
        return last - timedelta(days=self.days - 1), last

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preset:
        values = json.loads(text)
        if values.get("campaigns") is not None:
            values["campaigns"] = CampaignPlan.from_dict(values["campaigns"])
        return cls(**values)

    def with_(self, **changes: object) -> Preset:
        return replace(self, **changes)  # type: ignore[arg-type]


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny", customers=400, products=240, days=150, stores=3, active_offers=40, show_share=0.12
    ),
    "small": Preset(
        "small",
        customers=5_000,
        products=1_500,
        days=200,
        stores=8,
        active_offers=120,
        show_share=0.08,
    ),
    "medium": Preset(
        "medium",
        customers=50_000,
        products=5_000,
        days=365,
        stores=20,
        active_offers=300,
        show_share=0.05,
    ),
    "large": Preset(
        "large",
        customers=200_000,
        products=10_000,
        days=365,
        stores=40,
        active_offers=500,
        show_share=0.03,
    ),
    "xlarge": Preset(
        "xlarge",
        customers=1_000_000,
        products=20_000,
        days=365,
        stores=80,
        active_offers=800,
        show_share=0.015,
    ),
    # A supermarket's coupon data as it looks once imported (see docs/worlds.md).
    "harsh": Preset(
        "harsh",
        customers=2_500,
        products=15_000,
        days=728,
        stores=1,
        show_share=0.0,
        base_rate=0.00008,
        newcomer_share=0.12,
        churn_share=0.10,
        store_promo_share=0.03,
        favourites=30,
        domain="grocery",
        campaigns=CampaignPlan(),
    ),
}


def day_number(d: date) -> int:
    """Days since 1970-01-01: the integer day used in every array of the world."""
    return (d - EPOCH).days


def day_date(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


def iso_days(days: np.ndarray) -> list[str]:
    """Integer days to ISO `YYYY-MM-DD` strings, vectorised."""
    return np.datetime_as_string(np.asarray(days, dtype=np.int64).astype("datetime64[D]")).tolist()


def parse_days(values: object) -> np.ndarray:
    """ISO dates, timestamps, `date`s or datetime64 to integer days (only the day counts)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "O":
        try:
            return arr.astype("datetime64[D]").astype(np.int64)
        except (TypeError, ValueError):
            arr = arr.astype(str)
    if arr.dtype.kind in "US":
        arr = arr.astype("U10")
    return arr.astype("datetime64[D]").astype(np.int64)


def rng_for(seed: int, day: int, stream: int) -> np.random.Generator:
    """Randomness of one (day, purpose): a resumed world draws exactly what a fresh one drew."""
    return np.random.default_rng([seed, day_date(day).toordinal(), stream])
