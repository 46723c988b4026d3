"""Loading the feature SQL files and running them with engine-bound parameters.

Each file under `features/sql/` is one SELECT (a chain of CTEs) that builds the table
named after the file. Parameters appear as `$name` (DuckDB; sqlglot writes them as
Spark's `:name`) and are always bound by the engine, never formatted into the text.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@cache
def load_sql(name: str) -> str:
    """The text of `features/sql/<name>.sql` (package data, so it ships with the wheel)."""
    return resources.files("offerrank.features").joinpath("sql", f"{name}.sql").read_text("utf-8")


def sql_names() -> list[str]:
    """Every SQL file shipped with the package, by stem."""
    folder = resources.files("offerrank.features").joinpath("sql")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".sql"))


def parameters_of(sql: str) -> set[str]:
    """Names of the `$name` parameters a statement uses (DuckDB refuses unused ones)."""
    return set(_PARAM.findall(_strip_comments(sql)))


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def bound_sql(name: str, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The text of a SQL file and the subset of `values` it uses; all of them must be given."""
    sql = load_sql(name)
    wanted = parameters_of(sql)
    missing = wanted - values.keys()
    if missing:
        raise KeyError(f"{name}.sql needs parameter(s) {sorted(missing)}")
    return sql, {k: values[k] for k in wanted}


def build_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    values: dict[str, Any],
    *,
    into: str | None = None,
    temporary: bool = True,
    view: bool = False,
) -> None:
    """Materialise the result of `<name>.sql` as table `into` (default: the file's name),
    or define it as a temporary view (`view`; the SQL must then take no parameter)."""
    sql, params = bound_sql(name, values)
    if view and params:
        raise ValueError(f"{name}.sql takes parameters and cannot be a view")
    kind = "TEMP VIEW" if view else "TEMP TABLE" if temporary else "TABLE"
    con.execute(f"CREATE OR REPLACE {kind} {into or name} AS {sql}", params)


def read_arrow(con: duckdb.DuckDBPyConnection, name: str, values: dict[str, Any]) -> pa.Table:
    """Run `<name>.sql` and return its result as Arrow (no DB-API copy)."""
    sql, params = bound_sql(name, values)
    return con.sql(sql, params=params).to_arrow_table()
