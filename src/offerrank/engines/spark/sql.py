"""The project's DuckDB SQL files as Spark SQL, transpiled by sqlglot, parameters bound.

One rewrite adapts semantics that sqlglot leaves to the engines: DuckDB's `/` divides
in DOUBLE whatever its operands (a DECIMAL sum over a count included), while Spark
keeps DECIMAL and rounds the quotient to the result's scale. Casting both operands to
DOUBLE makes Spark compute exactly what DuckDB computes; for operands that are already
DOUBLE (or integers, which Spark also divides in DOUBLE) the cast changes nothing.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from offerrank.features.queries import bound_sql
from offerrank.features.registry import PACKAGE

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _double_division(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Div):
        for side in ("this", "expression"):
            operand = node.args[side]
            if not (isinstance(operand, exp.Cast) and operand.to.is_type("double")):
                node.set(side, exp.cast(operand, "DOUBLE"))
    return node


@cache
def to_spark(duckdb_sql: str) -> str:
    """Spark SQL for one DuckDB statement: `$name` becomes `:name`, `/` divides in DOUBLE."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    tree = tree.transform(_double_division)
    return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE, comments=False)


def _spark_value(value: Any) -> Any:
    """Parameter values as Spark binds them: dates stay dates, numbers stay numbers."""
    if isinstance(value, (bool, int, float, str, date)):
        return value
    raise TypeError(f"cannot bind a parameter of type {type(value).__name__}")


def run_sql(spark: SparkSession, duckdb_sql: str, params: dict[str, Any]) -> DataFrame:
    """Run one DuckDB statement on Spark with its parameters bound by Spark (never formatted)."""
    args = {k: _spark_value(v) for k, v in params.items()}
    return spark.sql(to_spark(duckdb_sql), args=args or None)


def run_file(
    spark: SparkSession, name: str, values: dict[str, Any], package: str = PACKAGE
) -> DataFrame:
    """Run `<package>/sql/<name>.sql` on Spark with the parameters it uses out of `values`."""
    sql, params = bound_sql(name, values, package)
    return run_sql(spark, sql, params)
