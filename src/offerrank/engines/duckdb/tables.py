"""An in-memory DuckDB holding the contract tables, typed, and the impression labels.

The same typing (`store.contract.typed_select`) serves the SQLite store and in-memory
Arrow tables (tests, Spark parity), so every SQL file sees real DATEs, BIGINT ids and
DOUBLE reals whatever the source.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from offerrank.engines.duckdb.sql import build_table
from offerrank.errors import ContractViolation
from offerrank.store.contract import INPUT_TABLES, Table, typed_select
from offerrank.store.history.tables import read_store_tables

DEFAULT_LABEL_WINDOW_DAYS = 7
META_TABLE = "offerrank_engine_meta"


def _load_table(con: duckdb.DuckDBPyConnection, table: Table, data: pa.Table) -> None:
    """Materialise one Arrow table in DuckDB under its contract name, typed by the contract."""
    missing = [c for c in table.column_names if c not in data.column_names]
    if missing:
        raise ContractViolation(
            f"{table.name}: missing column(s) {', '.join(missing)} (rule: required by the contract)"
        )
    source = f"arrow_{table.name}"
    # ADBC yields batches of ~1k rows, and contiguous chunks scan much faster; but one
    # contiguous copy of a whole table doubles its memory (59M order lines on `large`).
    # So the rows go in by slices, each made contiguous only when its chunks are small.
    for i, lo in enumerate(range(0, max(data.num_rows, 1), LOAD_SLICE_ROWS)):
        part = _contiguous(data.slice(lo, LOAD_SLICE_ROWS))
        con.register(source, part)
        try:
            select = typed_select(table, source)
            if i == 0:
                con.execute(f"CREATE OR REPLACE TABLE {table.name} AS {select}")
            else:
                con.execute(f"INSERT INTO {table.name} {select}")
        finally:
            con.unregister(source)


# Rows typed into DuckDB per statement when a table is loaded (bounds the extra memory): a
# whole number of DuckDB's row groups (122,880 rows), so the stored layout is the same.
LOAD_SLICE_ROWS = 32 * 122_880
_SMALL_CHUNK_ROWS = 65_536


def _contiguous(part: pa.Table) -> pa.Table:
    """`part` as one chunk per column when it arrives in small chunks, else as it is."""
    chunks = max((c.num_chunks for c in part.columns), default=0)
    if chunks > 1 and part.num_rows / chunks < _SMALL_CHUNK_ROWS:
        return part.combine_chunks()
    return part


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


def load_tables(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, pa.Table],
    *,
    label_window_days: int = DEFAULT_LABEL_WINDOW_DAYS,
    release: bool = False,
) -> None:
    """The seven contract tables typed into `con`, and `impression_labels` built.
    `release`: remove each table from `tables` once it is loaded, so that its memory goes
    before the next one is typed (the caller keeps no other reference).

    Extra tables and columns are ignored; a missing table or column is a ContractViolation.
    """
    missing = [t.name for t in INPUT_TABLES if t.name not in tables]
    if missing:
        raise ContractViolation(f"missing table(s): {', '.join(missing)}")
    for table in INPUT_TABLES:
        _load_table(con, table, tables[table.name])
        if release:
            del tables[table.name]  # the caller handed the tables over: free each when loaded
    build_impression_labels(con, label_window_days)


def engine_from_arrow(
    tables: dict[str, pa.Table], *, label_window_days: int = DEFAULT_LABEL_WINDOW_DAYS
) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection holding `tables` (see `load_tables`)."""
    con = duckdb.connect()
    load_tables(con, tables, label_window_days=label_window_days)
    return con


def connect_store(
    db_path: Path,
    *,
    since: date | None = None,
    label_window_days: int = DEFAULT_LABEL_WINDOW_DAYS,
    cache_dir: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """Read the store once (Arrow; see `store.history.tables.read_store_tables`) into a
    new in-memory DuckDB connection ready for the feature SQL."""
    tables = read_store_tables(Path(db_path), since=since, cache_dir=cache_dir)
    return engine_from_arrow(tables, label_window_days=label_window_days)
