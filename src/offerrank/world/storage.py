"""The world's tables in the store: contract tables plus its own `sim_*` ground truth.

The `sim_*` tables hold what a real retailer never sees (latent tastes, the true
redemption probability, redemptions that will happen in the coming days) so that a
world can be reopened and stepped on, and so that evaluation can compare any ranking
with the truth. Writes are bulk `executemany` over whole NumPy columns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from offerrank.store.db import create_input_tables

SIM_TABLES: dict[str, str] = {
    "sim_world": "key TEXT PRIMARY KEY, value TEXT NOT NULL",
    "sim_products": "product_id INTEGER PRIMARY KEY, popularity REAL NOT NULL",
    "sim_customers": (
        "customer_id INTEGER PRIMARY KEY, type_index INTEGER NOT NULL,"
        " signup_day INTEGER NOT NULL, churn_date TEXT, order_rate REAL NOT NULL,"
        " basket_mean REAL NOT NULL, qty_log_mean REAL NOT NULL, business_share REAL NOT NULL,"
        " promo_sensitivity REAL NOT NULL,"
        " responsiveness REAL NOT NULL, home_store INTEGER NOT NULL,"
        " tier1_pref REAL NOT NULL, tier2_pref REAL NOT NULL, tier3_pref REAL NOT NULL"
    ),
    "sim_customer_categories": (
        "customer_id INTEGER NOT NULL, category TEXT NOT NULL, preference REAL NOT NULL,"
        " PRIMARY KEY (customer_id, category)"
    ),
    "sim_customer_favourites": (
        "customer_id INTEGER NOT NULL, slot INTEGER NOT NULL, product_id INTEGER NOT NULL,"
        " PRIMARY KEY (customer_id, slot)"
    ),
    "sim_store_promos": (
        "product_id INTEGER NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL,"
        " discount_pct REAL NOT NULL"
    ),
    "sim_impression_truth": "impression_id INTEGER PRIMARY KEY, p_true REAL NOT NULL",
    "sim_pending_redemptions": (
        "impression_id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL,"
        " offer_id INTEGER NOT NULL, due_date TEXT NOT NULL"
    ),
}

INDEXES: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS orders_order_date ON orders (order_date)",
    "CREATE INDEX IF NOT EXISTS orders_customer_id ON orders (customer_id)",
    "CREATE INDEX IF NOT EXISTS order_items_order_id ON order_items (order_id)",
    "CREATE INDEX IF NOT EXISTS impressions_shown_date ON impressions (shown_date)",
    "CREATE INDEX IF NOT EXISTS redemptions_customer_offer ON redemptions (customer_id, offer_id)",
)


def create_schema(con: sqlite3.Connection) -> None:
    """Contract input tables and the world's own tables (read indexes come later)."""
    create_input_tables(con)
    for name, columns in SIM_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")


def create_indexes(con: sqlite3.Connection) -> None:
    """Indexes for reading; built once after a bulk generate (cheaper than maintaining them
    row by row during it) and checked whenever a world is reopened."""
    for stmt in INDEXES:
        con.execute(stmt)


def _pylist(values: Any) -> list[Any]:
    if isinstance(values, np.ndarray):
        return values.tolist()
    return list(values)


def insert_columns(con: sqlite3.Connection, table: str, columns: Mapping[str, Any]) -> int:
    """Append whole columns (NumPy arrays or lists of equal length) in one executemany."""
    names = list(columns)
    data = [_pylist(columns[n]) for n in names]
    if not data or not data[0]:
        return 0
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    con.executemany(sql, zip(*data, strict=True))
    return len(data[0])


def fetch_columns(
    con: sqlite3.Connection, sql: str, params: Sequence[Any] = ()
) -> dict[str, np.ndarray]:
    """Run a SELECT and return its columns as NumPy arrays (object arrays for text)."""
    cur = con.execute(sql, tuple(params))
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    if not rows:
        return {n: np.array([]) for n in names}
    return {n: np.array(col) for n, col in zip(names, zip(*rows, strict=True), strict=True)}


def write_meta(con: sqlite3.Connection, values: Mapping[str, str]) -> None:
    con.executemany(
        "INSERT INTO sim_world (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        sorted(values.items()),
    )


def read_meta(con: sqlite3.Connection) -> dict[str, str]:
    return dict(con.execute("SELECT key, value FROM sim_world").fetchall())


def next_id(con: sqlite3.Connection, table: str, column: str) -> int:
    row = con.execute(f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}").fetchone()
    return int(row[0])


def input_row_counts(con: sqlite3.Connection, tables: Sequence[str]) -> dict[str, int]:
    return {t: int(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}
