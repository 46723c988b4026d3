"""An in-memory DuckDB holding the contract tables, typed, ready for the feature SQL.

The store keeps dates as ISO text (timestamps allowed) and SQLite's loose typing; the
feature SQL wants real DATEs, BIGINT ids and DOUBLE reals. Converting once here keeps
every SQL file free of parsing concerns, and the same conversion serves the SQLite
store (`open_engine`) and in-memory Arrow tables (`engine_from_arrow`, tests, Spark parity).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.errors import ContractViolation
from offerrank.features.queries import build_table
from offerrank.store.contract import INPUT_TABLES, Column, Table
from offerrank.store.db import query_arrow_many
from offerrank.store.history_cache import TableRead, read_through

DEFAULT_LABEL_WINDOW_DAYS = 7
META_TABLE = "offerrank_engine_meta"

# How SQLite hands each kind to Arrow: explicit casts so that a loosely typed column
# (an integer stored in a REAL column, a timestamp in a date column) still arrives with one type.
_SQLITE_READ = {
    "int": "CAST({c} AS INTEGER)",
    "flag": "CAST({c} AS INTEGER)",
    "real": "CAST({c} AS REAL)",
    "text": "CAST({c} AS TEXT)",
    "date": "SUBSTR(CAST({c} AS TEXT), 1, 10)",
}
# How DuckDB types each kind; dates keep only their day whatever arrives (text, date, timestamp).
_DUCKDB_TYPE = {
    "int": "CAST({c} AS BIGINT)",
    "flag": "CAST({c} AS INTEGER)",
    "real": "CAST({c} AS DOUBLE)",
    "text": "CAST({c} AS VARCHAR)",
    "date": "CAST(SUBSTR(CAST({c} AS VARCHAR), 1, 10) AS DATE)",
}
# Tables that `since` may trim: a scoring run only needs the lookback window of orders.
_SINCE_FILTER = {
    "orders": "WHERE SUBSTR(CAST(order_date AS TEXT), 1, 10) >= ?",
    "order_items": (
        "WHERE order_id IN (SELECT order_id FROM orders "
        "WHERE SUBSTR(CAST(order_date AS TEXT), 1, 10) >= ?)"
    ),
}


def _select_list(columns: tuple[Column, ...], templates: dict[str, str]) -> str:
    """Column expressions built from contract names only (identifiers, never data values)."""
    return ", ".join(f"{templates[c.kind].format(c=c.name)} AS {c.name}" for c in columns)


# A first row of these literals fixes each column's Arrow type: the reader otherwise
# guesses it from the first rows, which may all be NULL (a mostly empty propensity).
_PROBE = {"int": "0", "flag": "0", "real": "0.5", "text": "''", "date": "''"}


def read_store_tables(
    db_path: Path, *, since: date | None = None, cache_dir: Path | None = None
) -> dict[str, pa.Table]:
    """Read every contract table from the SQLite store as Arrow, through ADBC.

    With `cache_dir`, rows already checked against the contract come from the history
    cache (`store.history_cache`) and only newer rows from SQLite; same tables either way.
    """
    if cache_dir is not None:
        cached = _read_cached(db_path, cache_dir, since)
        if cached is not None:
            return cached
    queries: list[tuple[str, tuple[str, ...]]] = []
    for table in INPUT_TABLES:
        probe = ", ".join(f"{_PROBE[c.kind]} AS {c.name}" for c in table.columns)
        sql = f"SELECT {_select_list(table.columns, _SQLITE_READ)} FROM {table.name}"
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
            select=f"SELECT {_select_list(t.columns, _SQLITE_READ)}",
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
    orders = orders.filter(pc.greater_equal(orders.column("order_date"), since.isoformat()))
    items = tables["order_items"]
    keep = pc.is_in(items.column("order_id"), value_set=orders.column("order_id").combine_chunks())
    return {**tables, "orders": orders, "order_items": items.filter(keep)}


def _load_table(con: duckdb.DuckDBPyConnection, table: Table, data: pa.Table) -> None:
    """Materialise one Arrow table in DuckDB under its contract name, typed by the contract."""
    missing = [c for c in table.column_names if c not in data.column_names]
    if missing:
        raise ContractViolation(
            f"{table.name}: missing column(s) {', '.join(missing)} (rule: required by the contract)"
        )
    source = f"arrow_{table.name}"
    # ADBC yields batches of ~1k rows; one contiguous chunk per column scans much faster.
    con.register(source, data.combine_chunks())
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {table.name} AS "
            f"SELECT {_select_list(table.columns, _DUCKDB_TYPE)} FROM {source}"
        )
    finally:
        con.unregister(source)


def build_impression_labels(con: duckdb.DuckDBPyConnection, label_window_days: int) -> None:
    """(Re)build `impression_labels` for a label window and remember which window it used."""
    build_table(con, "impression_labels", {"label_window": label_window_days}, temporary=False)
    con.execute(
        f"CREATE OR REPLACE TABLE {META_TABLE} AS SELECT $w AS label_window_days",
        {"w": label_window_days},
    )


def label_window_of(con: duckdb.DuckDBPyConnection) -> int | None:
    """The label window `impression_labels` was built with (None if it was never built)."""
    try:
        rows = con.execute(f"SELECT label_window_days FROM {META_TABLE}").fetchall()
    except duckdb.CatalogException:
        return None
    return int(rows[0][0]) if rows else None


def engine_from_arrow(
    tables: dict[str, pa.Table], *, label_window_days: int = DEFAULT_LABEL_WINDOW_DAYS
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the seven contract tables typed and `impression_labels` built.

    Extra tables and columns are ignored; a missing table or column is a ContractViolation.
    """
    missing = [t.name for t in INPUT_TABLES if t.name not in tables]
    if missing:
        raise ContractViolation(f"missing table(s): {', '.join(missing)}")
    con = duckdb.connect()
    for table in INPUT_TABLES:
        _load_table(con, table, tables[table.name])
    build_impression_labels(con, label_window_days)
    return con


def open_engine(
    db_path: Path,
    *,
    since: date | None = None,
    label_window_days: int = DEFAULT_LABEL_WINDOW_DAYS,
    cache_dir: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """Read the store once (Arrow via ADBC) into an in-memory DuckDB ready for features.

    `since` skips orders and order lines dated before it: a scoring run only needs the
    lookback window. Impressions and redemptions are always read whole, because the
    historical redemption rate counts every mature impression.
    """
    tables = read_store_tables(Path(db_path), since=since, cache_dir=cache_dir)
    return engine_from_arrow(tables, label_window_days=label_window_days)
