"""The contract tables as the retrain policy and the load step read them: each table's
state (watermark generation, last rowid), counts of dated rows, the orders' date range."""

from __future__ import annotations

import sqlite3

from offerrank.store.contract import INPUT_TABLES
from offerrank.store.db import table_exists

# The rows of a table appended after a given rowid and dated up to a given day: their
# date column (order lines go by their order's date).
_DATED_ROWS = {
    "orders": "SELECT COUNT(*) FROM orders WHERE rowid > ? AND SUBSTR(order_date, 1, 10) <= ?",
    "order_items": (
        "SELECT COUNT(*) FROM order_items AS i JOIN orders AS o ON o.order_id = i.order_id"
        " WHERE i.rowid > ? AND SUBSTR(o.order_date, 1, 10) <= ?"
    ),
    "impressions": (
        "SELECT COUNT(*) FROM impressions WHERE rowid > ? AND SUBSTR(shown_date, 1, 10) <= ?"
    ),
    "redemptions": (
        "SELECT COUNT(*) FROM redemptions WHERE rowid > ? AND SUBSTR(redeemed_date, 1, 10) <= ?"
    ),
}
DATED_TABLES = tuple(_DATED_ROWS)


def store_state(con: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Each input table's watermark generation and last rowid, as a model records them."""
    generations: dict[str, int] = {}
    if table_exists(con, "contract_watermarks"):
        generations = dict(
            con.execute("SELECT table_name, generation FROM contract_watermarks").fetchall()
        )
    state = {}
    for table in INPUT_TABLES:
        if table_exists(con, table.name):
            last = con.execute(f"SELECT MAX(rowid) FROM {table.name}").fetchone()[0]
            state[table.name] = {
                "generation": int(generations.get(table.name, 0)),
                "rowid": int(last or 0),
            }
    return state


def rows_added_dated_by(con: sqlite3.Connection, table: str, after_rowid: int, day: str) -> int:
    """Rows of `table` (one of `DATED_TABLES`) above `after_rowid` dated on or before `day`."""
    return int(con.execute(_DATED_ROWS[table], (after_rowid, day)).fetchone()[0])


def impressions_shown(con: sqlite3.Connection, first: str, last: str) -> int:
    """Impressions shown from `first` to `last` (timestamps of the last day count too)."""
    return int(
        con.execute(
            "SELECT COUNT(*) FROM impressions WHERE shown_date >= ? AND shown_date <= ?",
            (first, last + "\uffff"),
        ).fetchone()[0]
    )


def order_dates(con: sqlite3.Connection) -> tuple[str | None, str | None]:
    """The first and last order dates of the store (days, whatever their time of day)."""
    first, last = con.execute(
        "SELECT MIN(SUBSTR(order_date, 1, 10)), MAX(SUBSTR(order_date, 1, 10)) FROM orders"
    ).fetchone()
    return first, last


def customer_exists(con: sqlite3.Connection, customer_id: int) -> bool:
    found = con.execute("SELECT 1 FROM customers WHERE customer_id = ?", (customer_id,))
    return found.fetchone() is not None
