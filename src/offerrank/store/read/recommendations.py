"""`recommendations`: the lists a date served."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa

from offerrank.store.db import query_arrow


def served_model(con: sqlite3.Connection, day: str) -> str | None:
    """The model version that served date `day` (None: nothing served)."""
    row = con.execute(
        "SELECT model_version FROM recommendations WHERE run_date = ? LIMIT 1", (day,)
    ).fetchone()
    return None if row is None else str(row[0])


_SERVED_LIST = """
SELECT r.rank, r.score, r.model_version, r.offer_id, r.reason_codes,
       o.product_id, p.category, o.discount_pct, o.start_date, o.end_date,
       o.target_business_type, p.list_price, p.price_tier, p.is_own_brand
FROM recommendations r
LEFT JOIN offers o ON o.offer_id = r.offer_id
LEFT JOIN products p ON p.product_id = o.product_id
WHERE r.run_date = ? AND r.customer_id = ?
ORDER BY r.rank LIMIT ?
"""


def served_list(
    con: sqlite3.Connection, day: str, customer_id: int, limit: int
) -> list[tuple[Any, ...]]:
    """A customer's served offers of `day` in rank order, at most `limit`: (rank, score,
    model_version, offer_id, reason_codes, product_id, category, discount_pct,
    start_date, end_date, target_business_type, list_price, price_tier, is_own_brand)."""
    return con.execute(_SERVED_LIST, (day, customer_id, limit)).fetchall()


_SERVED_LISTS = """
SELECT r.customer_id, r.rank, r.offer_id, o.product_id, p.category, o.discount_pct,
       p.list_price, o.start_date, o.end_date, o.target_business_type, p.price_tier,
       p.is_own_brand, r.score, r.reason_codes, r.model_version
FROM recommendations r
LEFT JOIN offers o ON o.offer_id = r.offer_id
LEFT JOIN products p ON p.product_id = o.product_id
WHERE r.run_date = ?
ORDER BY r.customer_id, r.rank
"""


def served_lists_arrow(db_path: Path, day: str) -> pa.Table:
    """Every served row of `day` with its offer's details, by customer then rank, as Arrow
    (read in bulk: a day holds millions of rows)."""
    return query_arrow(db_path, _SERVED_LISTS, [day])
