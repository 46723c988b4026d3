"""Sizes of the world (presets) and the fixed facts of its retail domain.

Everything a simulated day needs that is not random lives here: the category and
business-type vocabularies, how each type of customer tends to shop, and the weekly
rhythm of the store. Keeping these as plain tables makes the world easy to reason
about and to tune without touching the simulation code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta

import numpy as np

DEFAULT_END = date(2026, 2, 28)
HISTORY_DAYS = 90  # how far back customer history drives behaviour (the features' lookback)
LABEL_DAYS = 7  # a redemption happens within [shown, shown + 7]
EPOCH = date(1970, 1, 1)

CATEGORIES: tuple[str, ...] = (
    "meat",
    "fish",
    "produce",
    "dairy",
    "bakery",  # fresh
    "dry_food",
    "beverages",
    "frozen",
    "cleaning",
    "non_food",
    "spirits",
    "confectionery",
)
N_FRESH = 5
BUSINESS_TYPES: tuple[str, ...] = ("restaurant", "hotel", "catering", "trader", "office", "private")
TYPE_SHARE = np.array([0.30, 0.08, 0.10, 0.12, 0.15, 0.25])

# Relative category weight per business type (rows: BUSINESS_TYPES, columns: CATEGORIES).
TYPE_CATEGORY_WEIGHTS = np.array(
    [
        [9, 6, 9, 6, 3, 6, 4, 4, 2, 1, 2, 1],  # restaurant: fresh kitchen
        [4, 3, 5, 7, 7, 4, 6, 3, 5, 3, 3, 3],  # hotel: breakfast, drinks, housekeeping
        [8, 3, 7, 4, 4, 8, 3, 7, 2, 2, 1, 1],  # catering: volume cooking, frozen
        [2, 1, 2, 2, 1, 8, 9, 3, 3, 3, 6, 8],  # trader: resale of shelf-stable goods
        [1, 1, 2, 3, 2, 3, 8, 1, 5, 6, 1, 6],  # office: drinks, supplies, snacks
        [4, 2, 5, 5, 4, 5, 5, 3, 3, 3, 2, 4],  # private: a household
    ],
    dtype=float,
)
# Price-tier preference per type (entry, standard, premium).
TYPE_TIER_WEIGHTS = np.array(
    [[3, 5, 2], [1, 4, 5], [5, 4, 1], [6, 3, 1], [3, 5, 2], [4, 4, 2]], dtype=float
)
TYPE_BASKET = np.array([10.0, 12.0, 14.0, 18.0, 5.0, 4.0])  # mean lines per order
TYPE_QTY_LOG = np.array([1.1, 1.3, 1.5, 2.1, 0.5, 0.1])  # log of typical units per line
TYPE_BUSINESS_SHARE = np.array([0.97, 0.97, 0.96, 0.98, 0.85, 0.03])
TYPE_INTERVAL_DAYS = np.array([9.0, 10.0, 11.0, 12.0, 18.0, 24.0])  # median days between orders
# Order-rate multipliers Monday..Sunday; private customers shop more on Saturday.
WEEKDAY_FACTOR = np.array([1.15, 1.10, 1.05, 1.10, 1.20, 0.80, 0.10])
WEEKDAY_FACTOR_PRIVATE = np.array([0.90, 0.90, 0.90, 1.00, 1.20, 1.70, 0.30])
CHANNELS: tuple[str, ...] = ("app", "email", "print")
OFFER_WEEKS = np.array([1, 2, 3, 4])  # offers run one to four weeks
STORE_PROMO_DAYS = 7


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

    def default_range(self, end: date | None = None) -> tuple[date, date]:
        last = end or DEFAULT_END
        return last - timedelta(days=self.days - 1), last

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preset:
        return cls(**json.loads(text))

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
