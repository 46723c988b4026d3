"""A hand-made set of contract tables small enough to work every answer out by hand.

The day is 2026-03-05 (`DAY`). Customers 5, 70, 140 and 200 sit in four id blocks (so
that partitions can split them); 140 signs up after the day, 200 on it. Offer 100 is
open to all, 101 only to hotels, 102 has ended, 103 starts the next day and 104 (for
restaurants) ends on the day. Customer 5 redeemed offer 100 before the day; 70 redeems
101 on the day itself, which does not make it ineligible.

Impressions and their labels under the 7-day label window:

| id | customer | offer | shown | redeemed | label |
|---|---|---|---|---|---|
| 1 | 5 | 102 | 02-10 | 02-15 | 1 |
| 2 | 70 | 102 | 02-10 | 02-18 (8 days) | 0 |
| 3 | 5 | 100 | 03-01 | 03-03 | 1 |
| 4 | 70 | 100 | 03-02 | - | 0 |
| 5 | 70 | 101 | 03-02 | 03-05 | 1 |
| 6 | 5 | 102 | 02-20 | 02-15 (before) | 0 |
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa

DAY = date(2026, 3, 5)


def _table(names: str, rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = names.split()
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})


def contract_tables() -> dict[str, pa.Table]:
    """The seven contract tables, dates as ISO text (as a store holds them)."""
    return {
        "customers": _table(
            "customer_id business_type signup_date",
            [
                (5, "restaurant", "2026-01-01"),
                (70, "hotel", None),
                (140, "restaurant", "2026-03-10"),
                (200, "hotel", "2026-03-05"),
            ],
        ),
        "products": _table(
            "product_id category is_fresh price_tier is_own_brand list_price unit_cost",
            [(10, "dairy", 1, 1, 0, 10.0, 6.0), (11, "bakery", 0, 2, 1, 4.0, 1.0)],
        ),
        "orders": _table(
            "order_id customer_id order_date is_business store_id",
            [(1000, 5, "2026-02-10", 1, 1), (1001, 70, "2026-02-20", 0, None)],
        ),
        "order_items": _table(
            "order_id product_id quantity unit_price is_promo",
            [(1000, 10, 2.0, 10.0, 0), (1001, 11, 1.0, 4.0, 1)],
        ),
        "offers": _table(
            "offer_id product_id start_date end_date discount_pct target_business_type",
            [
                (100, 10, "2026-03-01", "2026-03-31", 0.25, None),
                (101, 11, "2026-03-01", "2026-03-10", 0.5, "hotel"),
                (102, 10, "2026-02-01", "2026-02-28", 0.1, None),
                (103, 11, "2026-03-06", "2026-03-20", 0.2, None),
                (104, 10, "2026-03-01", "2026-03-05", 0.3, "restaurant"),
            ],
        ),
        "impressions": _table(
            "impression_id customer_id offer_id shown_date channel propensity",
            [
                (1, 5, 102, "2026-02-10", "app", 0.5),
                (2, 70, 102, "2026-02-10", "email", None),
                (3, 5, 100, "2026-03-01", "app", 0.5),
                (4, 70, 100, "2026-03-02", None, None),
                (5, 70, 101, "2026-03-02", "app", 1.0),
                (6, 5, 102, "2026-02-20", "app", 0.5),
            ],
        ),
        "redemptions": _table(
            "redemption_id customer_id offer_id redeemed_date order_id",
            [
                (1, 5, 102, "2026-02-15", None),
                (2, 70, 102, "2026-02-18", None),
                (3, 5, 100, "2026-03-03", None),
                (4, 70, 101, "2026-03-05", None),
            ],
        ),
    }


def with_rows(tables: dict[str, pa.Table], name: str, rows: list[tuple[Any, ...]]) -> dict:
    """`tables` with `rows` appended to table `name` (in its column order)."""
    extra = _table(" ".join(tables[name].column_names), rows).cast(tables[name].schema)
    return {**tables, name: pa.concat_tables([tables[name], extra])}
