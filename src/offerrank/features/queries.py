"""Loading the SQL files and binding their parameters; the text only, for any engine.

Each file under `<package>/sql/` is one SELECT (a chain of CTEs) that builds the table
named after the file. Parameters appear as `$name` (DuckDB; sqlglot writes them as
Spark's `:name`) and are always bound by the engine, never formatted into the text.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from offerrank.features.registry import PACKAGE

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@cache
def load_sql(name: str, package: str = PACKAGE) -> str:
    """The text of `<package>/sql/<name>.sql` (package data, so it ships with the wheel)."""
    return resources.files(package).joinpath("sql", f"{name}.sql").read_text("utf-8")


def sql_names(package: str = PACKAGE) -> list[str]:
    """Every SQL file shipped with the package, by stem."""
    folder = resources.files(package).joinpath("sql")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".sql"))


def parameters_of(sql: str) -> set[str]:
    """Names of the `$name` parameters a statement uses (DuckDB refuses unused ones)."""
    return set(_PARAM.findall(_strip_comments(sql)))


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def bind(sql: str, values: dict[str, Any], name: str = "statement") -> dict[str, Any]:
    """The subset of `values` a statement uses; all of them must be given."""
    wanted = parameters_of(sql)
    missing = wanted - values.keys()
    if missing:
        raise KeyError(f"{name} needs parameter(s) {sorted(missing)}")
    return {k: values[k] for k in wanted}


def bound_sql(
    name: str, values: dict[str, Any], package: str = PACKAGE
) -> tuple[str, dict[str, Any]]:
    """The text of a SQL file and the subset of `values` it uses."""
    sql = load_sql(name, package)
    return sql, bind(sql, values, f"{name}.sql")
