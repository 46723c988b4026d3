"""The contract tables of the SQLite store as Arrow, for any engine to load.

The store keeps dates as ISO text (timestamps allowed) and SQLite's loose typing; each
column is read with an explicit cast so that a loosely typed value (an integer stored in
a REAL column, a timestamp in a date column) still arrives with one type. With a cache
folder, rows already checked against the contract come from the history cache
(`store.history.history_cache`) and only newer rows from SQLite; the tables are the
same.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from offerrank.store.contract import INPUT_TABLES, Kind, select_list
from offerrank.store.db import query_arrow_many
from offerrank.store.history.history_cache import TableRead, read_through

# How SQLite hands each kind to Arrow.
_SQLITE_READ: dict[Kind, str] = {
    "int": "CAST({c} AS INTEGER)",
    "flag": "CAST({c} AS INTEGER)",
    "real": "CAST({c} AS REAL)",
    "text": "CAST({c} AS TEXT)",
    "date": "SUBSTR(CAST({c} AS TEXT), 1, 10)",
}
# Tables that `since` may trim: a scoring run only needs the lookback window of orders.
_SINCE_FILTER = {
    "orders": "WHERE SUBSTR(CAST(order_date AS TEXT), 1, 10) >= ?",
    "order_items": (
        "WHERE order_id IN (SELECT order_id FROM orders "
        "WHERE SUBSTR(CAST(order_date AS TEXT), 1, 10) >= ?)"
    ),
}
# A first row of these literals fixes each column's Arrow type: the reader otherwise
# guesses it from the first rows, which may all be NULL (a mostly empty propensity).
_PROBE: dict[Kind, str] = {"int": "0", "flag": "0", "real": "0.5", "text": "''", "date": "''"}


def read_store_tables(
    db_path: Path, *, since: date | None = None, cache_dir: Path | None = None
) -> dict[str, pa.Table]:
    """Every contract table of the store as Arrow, through ADBC, in one snapshot.

    `since` skips orders and order lines dated before it: a scoring run only needs the
    lookback window. Impressions and redemptions are always read whole, because the
    historical redemption rate counts every mature impression.
    """
    if cache_dir is not None:
        cached = _read_cached(db_path, cache_dir, since)
        if cached is not None:
            return cached
    queries: list[tuple[str, tuple[str, ...]]] = []
    for table in INPUT_TABLES:
        probe = ", ".join(f"{_PROBE[c.kind]} AS {c.name}" for c in table.columns)
        sql = f"SELECT {select_list(table.columns, _SQLITE_READ)} FROM {table.name}"
        params: tuple[str, ...] = ()
        if since is not None and table.name in _SINCE_FILTER:
            sql = f"{sql} {_SINCE_FILTER[table.name]}"
            params = (since.isoformat(),)
        queries.append((f"SELECT {probe} UNION ALL {sql}", params))
    results = query_arrow_many(db_path, queries)
    return {t.name: r.slice(1) for t, r in zip(INPUT_TABLES, results, strict=True)}


def _read_cached(db_path: Path, cache_dir: Path, since: date | None) -> dict[str, pa.Table] | None:
    reads = {
        t.name: TableRead(
            probe=", ".join(f"{_PROBE[c.kind]} AS {c.name}" for c in t.columns),
            select=f"SELECT {select_list(t.columns, _SQLITE_READ)}",
        )
        for t in INPUT_TABLES
    }
    found = read_through(Path(db_path), cache_dir, reads)
    if found is None:
        return None
    tables, _ = found
    return tables if since is None else _since(tables, since)


def _since(tables: dict[str, pa.Table], since: date) -> dict[str, pa.Table]:
    """The `_SINCE_FILTER` of the SQL path, on Arrow: orders dated on or after `since`
    (ISO text compares as dates) and the lines of those orders."""
    orders = tables["orders"]
    recent = pc.greater_equal(orders.column("order_date"), since.isoformat())
    if pc.all(recent, skip_nulls=False).as_py() is True:
        return tables  # nothing before `since` (a retraining day's long window): no copy
    orders = orders.filter(recent)
    items = tables["order_items"]
    keep = pc.is_in(items.column("order_id"), value_set=orders.column("order_id").combine_chunks())
    return {**tables, "orders": orders, "order_items": items.filter(keep)}
