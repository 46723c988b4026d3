"""Reasons a customer can read: why each served offer is on their list.

Every served pair gets one to three reason codes, strongest first: the features with the
largest positive contributions to its score (`attribution.served_contributions`) whose
value makes a true, plain sentence. A feature that pushed the score up but says nothing a
customer would recognise (basket size, margin, category entropy) gives no reason; a pair
with no readable positive contribution gets the offer's discount as its one reason.

The store keeps the codes (`recommendations.reason_codes`, a JSON array); the sentence of
a code is rendered when it is read, from the code and the offer (its category, discount,
end date and target), so it is the same in the API, the export and `explain`. Each code
is one fixed sentence template: the thresholds that choose between codes are here, and
documented in docs/reasons.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.delivery.offers import OfferDetails, percent
from offerrank.features.registry import FEATURE_COLUMNS

MAX_REASONS = 3
FALLBACK = "discount"

# Thresholds on feature values (docs/features.md gives each feature's definition).
FAVOURITE_SHARE = 0.25  # category_affinity_score: share of the customer's lines
OFTEN_SHARE = 0.10
LAST_WEEK_DAYS = 7  # days_since_last_cat_purchase
LAST_MONTH_DAYS = 30
DEEPER_BY = 0.05  # discount_depth_vs_usual: discount above the customer's usual one
PROMO_SHARE = 0.20  # promo_affinity: share of lines bought on promotion
PRICE_RANGE_SHARE = 0.30  # price_sensitivity_match: share of lines in the offer's tier
ENDS_SOON_DAYS = 3  # days_until_expiry
OFTEN_ORDERS = 6  # frequency: orders in the lookback window


@dataclass(frozen=True)
class ReasonCode:
    """A stable code, the feature it comes from, when it holds, and its sentence."""

    code: str
    feature: str
    holds: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (feature values, targeted) -> bool
    template: str  # {category}, {Category}, {discount}, {days}, {target}


def _always(v: np.ndarray, _: np.ndarray) -> np.ndarray:
    return np.ones(v.shape, dtype=bool)


# In priority order within a feature: the first code that holds speaks for the feature.
CODES: tuple[ReasonCode, ...] = (
    ReasonCode(
        "bought_before",
        "bought_product_before",
        lambda v, _: v >= 0.5,
        "You bought this product before",
    ),
    ReasonCode(
        "new_product", "bought_product_before", lambda v, _: v < 0.5, "Something new for you to try"
    ),
    ReasonCode(
        "category_favourite",
        "category_affinity_score",
        lambda v, _: v >= FAVOURITE_SHARE,
        "{Category} is a big part of what you buy",
    ),
    ReasonCode(
        "category_often",
        "category_affinity_score",
        lambda v, _: v >= OFTEN_SHARE,
        "You often buy {category}",
    ),
    ReasonCode(
        "category_last_week",
        "days_since_last_cat_purchase",
        lambda v, _: v <= LAST_WEEK_DAYS,
        "You bought {category} in the last week",
    ),
    ReasonCode(
        "category_last_month",
        "days_since_last_cat_purchase",
        lambda v, _: v <= LAST_MONTH_DAYS,
        "You bought {category} in the last month",
    ),
    ReasonCode(
        "deeper_discount",
        "discount_depth_vs_usual",
        lambda v, _: v >= DEEPER_BY,
        "Deeper discount than usual for you",
    ),
    ReasonCode("discount", "discount_depth", _always, "Save {discount} on this product"),
    ReasonCode(
        "promotions", "promo_affinity", lambda v, _: v >= PROMO_SHARE, "You often buy on promotion"
    ),
    ReasonCode(
        "price_range",
        "price_sensitivity_match",
        lambda v, _: v >= PRICE_RANGE_SHARE,
        "In the price range you usually buy",
    ),
    ReasonCode("popular", "historical_redemption_rate", _always, "Popular with other customers"),
    ReasonCode(
        "ends_soon", "days_until_expiry", lambda v, _: v <= ENDS_SOON_DAYS, "The offer ends {days}"
    ),
    ReasonCode("own_brand", "is_own_brand", lambda v, _: v >= 0.5, "From our own brand"),
    ReasonCode(
        "for_your_business",
        "business_type_match",
        lambda v, t: (v >= 0.5) & t,
        "An offer for {target} customers like you",
    ),
    ReasonCode(
        "regular_customer", "frequency", lambda v, _: v >= OFTEN_ORDERS, "You shop with us often"
    ),
)
BY_CODE = {c.code: c for c in CODES}
REASON_FEATURES: tuple[str, ...] = tuple(dict.fromkeys(c.feature for c in CODES))
REASON_COLUMNS = np.array([FEATURE_COLUMNS.index(f) for f in REASON_FEATURES])
FEATURE_CODES = {f: [j for j, c in enumerate(CODES) if c.feature == f] for f in REASON_FEATURES}


@dataclass(frozen=True)
class Chosen:
    """Per pair, up to MAX_REASONS indices into CODES, strongest first (-1: none)."""

    codes: np.ndarray  # (pairs, MAX_REASONS)

    def as_json(self) -> pa.Array:
        """Each pair's codes as a JSON array text, built column-wise (no loop over pairs)."""
        quoted = pa.array([json.dumps(c.code) for c in CODES])
        slots = [
            pa.DictionaryArray.from_arrays(
                pa.array(self.codes[:, s], mask=self.codes[:, s] < 0), quoted
            ).dictionary_decode()
            for s in range(self.codes.shape[1])
        ]
        joined = pc.binary_join_element_wise(*slots, ",", null_handling="skip")
        return pc.binary_join_element_wise("[", joined, "]", "")


def choose_reasons(contrib: np.ndarray, values: np.ndarray, targeted: np.ndarray) -> Chosen:
    """The reasons of each pair from its contributions and values (both pairs x
    REASON_FEATURES) and whether its offer targets a business type.

    For each feature, the first of its codes that holds on the value; then the features
    with a positive contribution and a code, by contribution descending, at most three;
    a pair left with none gets FALLBACK.
    """
    n = contrib.shape[0]
    columns = []
    for col, feature in enumerate(REASON_FEATURES):
        code = np.full(n, -1, dtype=np.int8)
        for j in reversed(FEATURE_CODES[feature]):  # earlier codes win: written last
            code[CODES[j].holds(values[:, col], targeted)] = j
        columns.append(code)
    per_feature = np.stack(columns, axis=1)
    strength = np.where((per_feature >= 0) & (contrib > 0), contrib, -np.inf)
    picked = np.full((n, MAX_REASONS), -1, dtype=np.int8)
    every = np.arange(n)
    for slot in range(MAX_REASONS):  # the strongest left (the first on a tie), three times
        best = strength.argmax(axis=1)
        found = np.isfinite(strength[every, best])
        picked[:, slot] = np.where(found, per_feature[every, best], -1)
        strength[every, best] = -np.inf
    none = picked[:, 0] < 0
    picked[none, 0] = [c.code for c in CODES].index(FALLBACK)
    return Chosen(picked)


def parse_codes(text: str | None) -> list[str]:
    """The codes stored in `reason_codes` (an empty list for rows written before reasons)."""
    if not text:
        return []
    codes = json.loads(text)
    return [c for c in codes if isinstance(c, str)]


def _days_phrase(days: int) -> str:
    if days <= 0:
        return "today"
    return "tomorrow" if days == 1 else f"in {days} days"


def reason_text(code: str, offer: OfferDetails | None, run_date: date | str) -> str:
    """The sentence of one code for one offer on a run date (unknown codes read as-is)."""
    reason = BY_CODE.get(code)
    if reason is None:
        return code
    category = (offer.category if offer and offer.category else "this category").replace("_", " ")
    days = 0
    if offer is not None:
        day = run_date if isinstance(run_date, date) else date.fromisoformat(run_date)
        days = (date.fromisoformat(offer.valid_to) - day).days
    target = offer.target_business_type if offer and offer.target_business_type else None
    if code == "for_your_business" and target is None:
        return "Chosen for customers like you"
    return reason.template.format(
        category=category,
        Category=category[:1].upper() + category[1:],
        discount=percent(offer.discount_pct) if offer else "money",
        days=_days_phrase(days),
        target=target,
    )


def reason_texts(
    codes: Sequence[str], offer: OfferDetails | None, run_date: date | str
) -> list[str]:
    return [reason_text(c, offer, run_date) for c in codes]
