"""The contract tables as typed Spark temp views, read from Parquet or the SQLite store.

Input on a cluster is a folder with one Parquet dataset per table (`offerrank export`
writes `<table>.parquet`; a directory `<table>.parquet/` or `<table>/` of part files
works too, so shared storage written by any Spark job fits). A dated table's folder may
be partitioned hive-style by its day (`offerrank export --partition-by-day`,
`store.ingest.lake`): a run that needs only the lookback window of orders then lists and
reads only those days. Small stores can be read straight from SQLite through the
project's Arrow reader. Either way each column is cast exactly as the DuckDB engine
casts it (the same expressions, transpiled), so the feature SQL sees the same types on
both engines.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offerrank.config import Settings
from offerrank.engines.spark.inputs import SparkInput, check_input, spark_input
from offerrank.engines.spark.sql import run_file, run_sql
from offerrank.errors import ContractViolation, UsageError
from offerrank.store.contract import INPUT_TABLES, Table, typed_select
from offerrank.store.history.tables import read_store_tables
from offerrank.store.ingest.lake import DAY_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

LABELS_VIEW = "impression_labels"
# Which label window the registered `impression_labels` was built with (session state).
LABEL_WINDOW_CONF = "offerrank.label_window_days"
# The Spark type of an all-NULL column when a table has no file (export skips empty tables).
_EMPTY_TYPE = {"int": "BIGINT", "flag": "INT", "real": "DOUBLE", "text": "STRING", "date": "STRING"}
# Partition values stay text (`2026-02-16`), as the flat export's dates are: the contract's
# casts type them, and Spark's inference (DATE, or INT for some values) is not involved.
_INFERENCE = "spark.sql.sources.partitionColumnTypeInference.enabled"
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


def _register(
    spark: SparkSession,
    raw: dict[str, DataFrame],
    since: date | None,
    pruned: frozenset[str] = frozenset(),
) -> None:
    """Replace the registered contract tables; labels of the previous tables are stale.
    The tables in `pruned` hold only the days from `since` already."""
    for table in INPUT_TABLES:
        if spark.catalog.tableExists(table.name):
            spark.table(table.name).unpersist()
        _typed(spark, table, raw[table.name], None if table.name in pruned else since)
    spark.conf.unset(LABEL_WINDOW_CONF)


def _empty(spark: SparkSession, table: Table) -> DataFrame:
    cols = ", ".join(f"CAST(NULL AS {_EMPTY_TYPE[c.kind]}) AS {c.name}" for c in table.columns)
    return spark.sql(f"SELECT {cols} WHERE 1 = 0")


def _entries(spark: SparkSession, location: str) -> dict[str, bool] | None:
    """The entries of a folder (name: whether it is a folder) through Spark's own file
    system layer, so that any URI Spark reads is listed; None when it is no folder."""
    jvm: Any = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path) or not fs.getFileStatus(path).isDirectory():
        return None
    return {s.getPath().getName(): bool(s.isDirectory()) for s in fs.listStatus(path)}


def parquet_source(entries: dict[str, bool], name: str) -> str | None:
    """Which entry holds table `name`: `<name>.parquet` (file or folder) or `<name>/`."""
    found = [e for e in (f"{name}.parquet", name) if e in entries]
    if len(found) > 1:
        raise ContractViolation(
            f"{name}: two datasets for one table ({' and '.join(found)}); keep one"
        )
    return found[0] if found else None


def load_parquet(spark: SparkSession, folder: Path | str, *, since: date | None = None) -> None:
    """Register the contract tables of a Parquet folder; a table without data is empty.

    A dated table partitioned by its day is filtered on the partition column, which
    Spark resolves by listing folders: files of days before `since` are never opened.
    """
    location = str(folder).rstrip("/")
    entries = _entries(spark, location)
    if entries is None:
        raise UsageError(f"{location}: no such folder (the Parquet tables to read)")
    sources = {t.name: parquet_source(entries, t.name) for t in INPUT_TABLES}
    if not any(sources.values()):
        raise ContractViolation(
            f"{location}: no contract tables (expected <table>.parquet files or <table>/"
            " folders, as offerrank export writes them)"
        )
    raw, pruned = {}, set()
    previous = spark.conf.get(_INFERENCE) or "true"
    spark.conf.set(_INFERENCE, "false")
    try:
        for table in INPUT_TABLES:
            entry = sources[table.name]
            if entry is None:
                raw[table.name] = _empty(spark, table)
                continue
            data = spark.read.parquet(f"{location}/{entry}")
            day = DAY_COLUMNS.get(table.name)
            if (
                since is not None
                and day is not None
                and table.name in _SINCE
                and _partitioned_by(spark, location, entry, day)
            ):
                data = data.where(data[day] >= since.isoformat())
                pruned.add(table.name)
            raw[table.name] = data
    finally:
        spark.conf.set(_INFERENCE, previous)
    _register(spark, raw, since, frozenset(pruned))


def _partitioned_by(spark: SparkSession, location: str, entry: str, column: str) -> bool:
    """Whether a table's folder is partitioned hive-style by `column`."""
    children = _entries(spark, f"{location}/{entry}") or {}
    return any(name.startswith(f"{column}=") for name, is_dir in children.items() if is_dir)


def load_input(spark: SparkSession, settings: Settings, *, since: date | None = None) -> None:
    """Register the contract tables from where the settings say (`inputs.spark_input`)."""
    source: SparkInput | None = spark_input(settings)
    if source is None:
        load_store(spark, settings.db_path, since=since)
        return
    check_input(source)
    try:
        load_parquet(spark, source.location, since=since)
    except (UsageError, ContractViolation) as exc:
        raise type(exc)(f"{source.origin}: {exc}") from None


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
