"""The world's tables in the store: contract tables plus its own `sim_*` ground truth.

The `sim_*` tables hold what a real retailer never sees (latent tastes, the true
redemption probability, redemptions that will happen in the coming days) so that a
world can be reopened and stepped on, and so that evaluation can compare any ranking
with the truth. Writes are whole Arrow tables collected in a `Batch` (one transaction),
applied here through the standard library for a single step, or by the bulk writer
process (`world.bulk`) when many days are generated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from offerrank.store.db import create_input_tables, insert_arrow

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
    # coupon campaigns (`world.campaigns`); empty in a world without them
    "sim_campaigns": (
        "campaign_id INTEGER PRIMARY KEY, start_date TEXT NOT NULL, end_date TEXT NOT NULL,"
        " weekday INTEGER NOT NULL, rate REAL NOT NULL"
    ),
    "sim_campaign_households": (
        "campaign_id INTEGER NOT NULL, customer_id INTEGER NOT NULL,"
        " PRIMARY KEY (campaign_id, customer_id)"
    ),
    "sim_offer_campaigns": "offer_id INTEGER PRIMARY KEY, campaign_id INTEGER NOT NULL",
}

# Read indexes. Those on a key that grows with the day are kept up while days are
# appended (each insert lands at the right edge of the index, and the bulk writer does it
# while the next day is computed); the others are built once after a bulk generate,
# which is cheaper than maintaining them row by row.
APPEND_ORDER_INDEXES: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS orders_order_date ON orders (order_date)",
    "CREATE INDEX IF NOT EXISTS order_items_order_id ON order_items (order_id)",
    "CREATE INDEX IF NOT EXISTS impressions_shown_date ON impressions (shown_date)",
)
INDEXES: tuple[str, ...] = (
    *APPEND_ORDER_INDEXES,
    "CREATE INDEX IF NOT EXISTS orders_customer_id ON orders (customer_id)",
    "CREATE INDEX IF NOT EXISTS redemptions_customer_offer ON redemptions (customer_id, offer_id)",
)


def create_schema(con: sqlite3.Connection) -> None:
    """Contract input tables, the world's own tables and the append-order indexes."""
    create_input_tables(con)
    for name, columns in SIM_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    for stmt in APPEND_ORDER_INDEXES:
        con.execute(stmt)


def create_indexes(con: sqlite3.Connection) -> None:
    """Every read index; run after a bulk generate and whenever a world is reopened."""
    for stmt in INDEXES:
        con.execute(stmt)


def table_of(columns: Mapping[str, Any]) -> pa.Table:
    """Equal-length columns (NumPy arrays, lists or Arrow arrays) as one Arrow table;
    numeric NumPy columns are not copied."""
    return pa.table({name: pa.array(values) for name, values in columns.items()})


@dataclass
class Batch:
    """Writes that belong to one transaction, in order: rows to append (`rows`) and
    statements with their parameters (`sql`)."""

    steps: list[tuple[str, Any, Any]] = field(default_factory=list)

    def rows(self, table: str, data: pa.Table) -> Batch:
        if data.num_rows:
            self.steps.append(("rows", table, data))
        return self

    def sql(self, statement: str, params: Sequence[Any] = ()) -> Batch:
        self.steps.append(("sql", statement, tuple(params)))
        return self

    def __len__(self) -> int:
        return sum(data.num_rows for kind, _, data in self.steps if kind == "rows")


def write_batch(con: sqlite3.Connection, batch: Batch) -> None:
    """Apply a batch on a standard-library connection; the caller holds the transaction."""
    for kind, target, data in batch.steps:
        if kind == "rows":
            insert_arrow(con, target, data)
        else:
            con.execute(target, data)


def meta_statement(values: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """One upsert of `sim_world` keys, as a statement and its parameters."""
    items = sorted(values.items())
    rows = ", ".join("(?, ?)" for _ in items)
    return (
        f"INSERT INTO sim_world (key, value) VALUES {rows}"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        tuple(v for item in items for v in item),
    )


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
    con.execute(*meta_statement(values))


def read_meta(con: sqlite3.Connection) -> dict[str, str]:
    return dict(con.execute("SELECT key, value FROM sim_world").fetchall())


def next_id(con: sqlite3.Connection, table: str, column: str) -> int:
    row = con.execute(f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}").fetchone()
    return int(row[0])


def input_row_counts(con: sqlite3.Connection, tables: Sequence[str]) -> dict[str, int]:
    return {t: int(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}
