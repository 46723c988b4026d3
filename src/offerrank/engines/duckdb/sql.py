"""Running the shared SQL files on a DuckDB connection, parameters bound by DuckDB."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from offerrank.features.queries import bound_sql
from offerrank.features.registry import PACKAGE


def build_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    values: dict[str, Any],
    *,
    into: str | None = None,
    temporary: bool = True,
    view: bool = False,
    package: str = PACKAGE,
) -> None:
    """Materialise the result of `<name>.sql` as table `into` (default: the file's name),
    or define it as a temporary view (`view`; the SQL must then take no parameter)."""
    sql, params = bound_sql(name, values, package)
    if view and params:
        raise ValueError(f"{name}.sql takes parameters and cannot be a view")
    kind = "TEMP VIEW" if view else "TEMP TABLE" if temporary else "TABLE"
    con.execute(f"CREATE OR REPLACE {kind} {into or name} AS {sql}", params)


def read_arrow(
    con: duckdb.DuckDBPyConnection, name: str, values: dict[str, Any], package: str = PACKAGE
) -> pa.Table:
    """Run `<name>.sql` and return its result as Arrow (no DB-API copy)."""
    sql, params = bound_sql(name, values, package)
    return con.sql(sql, params=params).to_arrow_table()
