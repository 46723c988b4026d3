"""What an offer is, in words: its product, category, discount and validity next to its id.

Ids mean nothing to a marketer or a customer, so `explain`, the report, the API and the
export show each offer with these details, read from the contract's `offers` and
`products` tables (the contract has no product name: the category, price tier and brand
describe the product).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from offerrank.store.db import Connection
from offerrank.store.read import offers

TIERS = {1: "entry", 2: "standard", 3: "premium"}


@dataclass(frozen=True)
class OfferDetails:
    offer_id: int
    product_id: int
    category: str | None  # None only when the product row is missing
    discount_pct: float
    valid_from: str
    valid_to: str
    target_business_type: str | None
    list_price: float | None
    price_tier: int | None
    own_brand: bool | None

    @property
    def offer_price(self) -> float | None:
        if self.list_price is None:
            return None
        return round(self.list_price * (1 - self.discount_pct), 2)

    @property
    def label(self) -> str:
        """One short line: "30 % off dairy (product 512, premium, own brand)"."""
        product = [f"product {self.product_id}"]
        if self.price_tier in TIERS:
            product.append(TIERS[self.price_tier])
        if self.own_brand:
            product.append("own brand")
        category = (self.category or "?").replace("_", " ")
        return f"{percent(self.discount_pct)} off {category} ({', '.join(product)})"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "offer_price": self.offer_price, "label": self.label}


def percent(share: float) -> str:
    """0.3 -> "30 %"; 0.125 -> "12.5 %" (no false precision, no rounding a discount up)."""
    value = round(share * 100, 1)
    return f"{value:g} %"


def _details(row: tuple[Any, ...]) -> OfferDetails:
    return OfferDetails(
        int(row[0]),
        int(row[1]),
        row[2],
        float(row[3]),
        str(row[4])[:10],
        str(row[5])[:10],
        row[6],
        row[7],
        row[8],
        None if row[9] is None else bool(row[9]),
    )


def offer_details(con: Connection, offer_ids: Iterable[int]) -> dict[int, OfferDetails]:
    """The details of the given offers that exist in the store, by offer id."""
    return {int(r[0]): _details(r) for r in offers.offer_rows(con, offer_ids)}
