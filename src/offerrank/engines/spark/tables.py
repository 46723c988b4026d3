"""The contract tables as typed Spark temp views, read from Parquet or the SQLite store.

Input on a cluster is a folder with one Parquet dataset per table (`offerrank export`
writes `<table>.parquet`; a directory `<table>.parquet/` or `<table>/` of part files
works too, so shared storage written by any Spark job fits). Small stores can be read
straight from SQLite through the project's Arrow reader. Either way each column is cast
exactly as the DuckDB engine casts it (the same expressions, transpiled), so the
feature SQL sees the same types on both engines.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from offerrank.engines.spark.sql import run_file, run_sql
from offerrank.errors import ContractViolation
from offerrank.store.contract import INPUT_TABLES, Table, typed_select
from offerrank.store.tables import read_store_tables

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

LABELS_VIEW = "impression_labels"
# Which label window the registered `impression_labels` was built with (session state).
LABEL_WINDOW_CONF = "offerrank.label_window_days"
# The Spark type of an all-NULL column when a table has no file (export skips empty tables).
_EMPTY_TYPE = {"int": "BIGINT", "flag": "INT", "real": "DOUBLE", "text": "STRING", "date": "STRING"}
# A scoring run needs only the lookback window of orders (as `open_engine(since=...)`).
_SINCE = {
    "orders": "SELECT * FROM {src} WHERE order_date >= $since",
    "order_items": "SELECT * FROM {src} WHERE order_id IN (SELECT order_id FROM orders)",
}


def _typed(spark: SparkSession, table: Table, source: DataFrame, since: date | None) -> None:
    """Register `table.name` as the contract-typed view of `source` (a raw DataFrame)."""
    missing = [c for c in table.column_names if c not in source.columns]
    if missing:
        raise ContractViolation(
            f"{table.name}: missing column(s) {', '.join(missing)} (rule: required by the contract)"
        )
    raw = f"raw_{table.name}"
    source.createOrReplaceTempView(raw)
    sql = typed_select(table, raw)
    params: dict[str, date] = {}
    if since is not None and table.name in _SINCE:
        sql = _SINCE[table.name].format(src=f"({sql}) AS typed")
        params = {"since": since} if "$since" in sql else {}
    # Cached: every feature stage of a run reads these, and each read would redo the casts.
    run_sql(spark, sql, params).cache().createOrReplaceTempView(table.name)


def _register(spark: SparkSession, raw: dict[str, DataFrame], since: date | None) -> None:
    """Replace the registered contract tables; labels of the previous tables are stale."""
    for table in INPUT_TABLES:
        if spark.catalog.tableExists(table.name):
            spark.table(table.name).unpersist()
        _typed(spark, table, raw[table.name], since)
    spark.conf.unset(LABEL_WINDOW_CONF)


def _empty(spark: SparkSession, table: Table) -> DataFrame:
    cols = ", ".join(f"CAST(NULL AS {_EMPTY_TYPE[c.kind]}) AS {c.name}" for c in table.columns)
    return spark.sql(f"SELECT {cols} WHERE 1 = 0")


def parquet_source(folder: Path, name: str) -> Path | None:
    """Where table `name` lives under `folder`: `<name>.parquet` (file or folder) or `<name>/`."""
    for candidate in (folder / f"{name}.parquet", folder / name):
        if candidate.exists():
            return candidate
    return None


def load_parquet(spark: SparkSession, folder: Path, *, since: date | None = None) -> None:
    """Register the contract tables of a Parquet folder; a table without data is empty."""
    raw = {}
    for table in INPUT_TABLES:
        path = parquet_source(Path(folder), table.name)
        raw[table.name] = (
            spark.read.parquet(str(path)) if path is not None else _empty(spark, table)
        )
    _register(spark, raw, since)


def load_arrow(
    spark: SparkSession, tables: dict[str, pa.Table], *, since: date | None = None
) -> None:
    """Register the contract tables from Arrow (the driver's memory: small data only)."""
    missing = [t.name for t in INPUT_TABLES if t.name not in tables]
    if missing:
        raise ContractViolation(f"missing table(s): {', '.join(missing)}")
    raw = {
        t.name: spark.createDataFrame(tables[t.name])
        if tables[t.name].num_rows
        else _empty(spark, t)
        for t in INPUT_TABLES
    }
    _register(spark, raw, since)


def load_store(spark: SparkSession, db_path: Path, *, since: date | None = None) -> None:
    """Register the contract tables of a SQLite store, read through the Arrow reader."""
    load_arrow(spark, read_store_tables(Path(db_path), since=since))


def build_labels(spark: SparkSession, label_window_days: int) -> DataFrame:
    """`impression_labels` (the same SQL file as DuckDB's), cached for the run."""
    if spark.catalog.tableExists(LABELS_VIEW):
        spark.table(LABELS_VIEW).unpersist()
    labels = run_file(spark, "impression_labels", {"label_window": label_window_days}).cache()
    labels.createOrReplaceTempView(LABELS_VIEW)
    spark.conf.set(LABEL_WINDOW_CONF, str(label_window_days))
    return labels


def ensure_labels(spark: SparkSession, label_window_days: int) -> None:
    """Rebuild `impression_labels` unless it was built with this label window."""
    if spark.conf.get(LABEL_WINDOW_CONF, None) != str(label_window_days):
        build_labels(spark, label_window_days)
