"""Engines for tests: a loaded DuckDB engine on a store or on in-memory tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from offerrank.config import Settings
from offerrank.engines.duckdb.engine import DuckDBEngine


def duckdb_engine(db: Path, since: date | None = None, **settings: Any) -> DuckDBEngine:
    """The store at `db` loaded into a DuckDB engine (history cache off unless asked)."""
    engine = DuckDBEngine(Settings(db_path=db, **{"history_cache": False, **settings}))
    engine.load(since=since)
    return engine


def engine_on(tables: dict[str, pa.Table], **settings: Any) -> DuckDBEngine:
    """A DuckDB engine holding in-memory contract tables."""
    return DuckDBEngine.from_tables(Settings(**settings), tables)


def day_eligible_pairs(
    engine: DuckDBEngine, day: date, settings: Settings, customers: pa.Table | None = None
) -> pa.Table:
    """The eligible pairs of `day` for `customers` (default: every customer)."""
    from offerrank.engines.base import SqlQuery
    from offerrank.ranking.retrieval import eligible_sql

    if customers is None:
        customers = engine.con.sql("SELECT customer_id FROM customers").to_arrow_table()
    return engine.scoped_pairs(SqlQuery(eligible_sql(), {"as_of": day}), customers)
