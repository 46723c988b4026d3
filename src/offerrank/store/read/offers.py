"""The contract's `offers` with their products: what describes an offer to a reader."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

_DETAILS = """
SELECT o.offer_id, o.product_id, p.category, o.discount_pct, o.start_date, o.end_date,
       o.target_business_type, p.list_price, p.price_tier, p.is_own_brand
FROM offers o LEFT JOIN products p ON p.product_id = o.product_id
"""
_CHUNK = 500  # ids per query: below SQLite's limit on bound parameters


def offer_rows(con: sqlite3.Connection, offer_ids: Iterable[int]) -> list[tuple[Any, ...]]:
    """(offer_id, product_id, category, discount_pct, start_date, end_date,
    target_business_type, list_price, price_tier, is_own_brand) of the given offers that
    exist in the store."""
    ids = sorted({int(i) for i in offer_ids})
    rows: list[tuple[Any, ...]] = []
    for lo in range(0, len(ids), _CHUNK):
        chunk = ids[lo : lo + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows += con.execute(f"{_DETAILS} WHERE o.offer_id IN ({marks})", chunk).fetchall()
    return rows
