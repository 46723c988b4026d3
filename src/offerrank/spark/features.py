"""Point-in-time features on Spark: the feature SQL files, stage by stage, as temp views.

The stages, their order, the plan choice and the SQL text are those of
`offerrank.features.compute`; only the engine differs. Each stage that DuckDB
materialises as a table is cached here, each DuckDB view stays a view, and the final
`pair_features` result is checkpointed so that the stages can be released at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from offerrank.features import compute
from offerrank.features.compute import (
    FEATURE_COLUMNS,
    JOIN_PLAN_MAX_DATES,
    KEY_COLUMNS,
    PLAN_FILES,
    QUERY_TABLE,
    STAGES,
    VIEW_STAGES,
    _query_pairs,
    _schema,
)
from offerrank.spark.sql import run_file
from offerrank.spark.tables import ensure_labels

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

OUTPUT_COLUMNS: tuple[str, ...] = ("row_id", *KEY_COLUMNS, *FEATURE_COLUMNS)


def query_frame(spark: SparkSession, pairs: pa.Table) -> DataFrame:
    """Requested rows from the driver (Arrow), typed and numbered as DuckDB numbers them."""
    return spark.createDataFrame(_query_pairs(pairs))


def number_pairs(pairs: DataFrame) -> DataFrame:
    """Requested rows already in Spark (e.g. candidates): typed, with a unique row_id.

    The ids are unique but not consecutive; `features_to_arrow` orders by them.
    """
    from pyspark.sql import functions as F

    return pairs.select(
        F.monotonically_increasing_id().alias("row_id"),
        F.col("customer_id").cast("bigint").alias("customer_id"),
        F.col("offer_id").cast("bigint").alias("offer_id"),
        F.col("as_of").cast("date").alias("as_of"),
    )


def choose_plan(query: DataFrame) -> str:
    """compute.choose_plan's own rule, on a few distinct as_of dates (not every row).

    The rule depends only on how many distinct dates there are, up to a small bound, so
    that many dates reach the driver.
    """
    dates = query.select("as_of").distinct().limit(JOIN_PLAN_MAX_DATES + 1).toArrow()
    return compute.choose_plan(dates)


def spark_features(
    spark: SparkSession,
    query: DataFrame,
    *,
    lookback_days: int = 90,
    label_window_days: int = 7,
    plan: str | None = None,
) -> DataFrame:
    """row_id, customer_id, offer_id, as_of and the 22 features of every row of `query`.

    `query` comes from `query_frame` or `number_pairs`; the contract tables and
    `impression_labels` (built with `label_window_days`) must be registered. The result
    is checkpointed (computed once, lineage cut) and every stage is released, so the
    caller may run the next batch at once; `unpersist()` it when done.
    """
    if lookback_days < 1 or label_window_days < 0:
        raise ValueError("lookback_days must be >= 1 and label_window_days >= 0")
    ensure_labels(spark, label_window_days)
    # Materialised first: a plan holding a non-deterministic row id never matches a
    # cached plan (every cached stage above it would be recomputed at each use), and a
    # large local relation would be copied into, and compared within, every stage's plan.
    query = query.localCheckpoint(eager=True)
    query.createOrReplaceTempView(QUERY_TABLE)
    files = PLAN_FILES[plan or choose_plan(query)]
    params = {"lookback": lookback_days, "label_window": label_window_days}
    built: list[DataFrame] = []
    try:
        for stage in STAGES:
            frame = run_file(spark, files[stage], params)
            if stage not in VIEW_STAGES:
                frame = frame.cache()
                built.append(frame)
            frame.createOrReplaceTempView(stage)
        result = run_file(spark, "pair_features", params).select(*OUTPUT_COLUMNS)
        return result.localCheckpoint(eager=True)
    finally:
        for frame in built:
            frame.unpersist()
        for stage in (*STAGES, QUERY_TABLE):
            spark.catalog.dropTempView(stage)


def features_to_arrow(features: DataFrame) -> pa.Table:
    """The features on the driver in row_id order (the input order), typed like DuckDB's."""
    return typed_features(features.orderBy("row_id").toArrow())


def typed_features(table: pa.Table) -> pa.Table:
    """Keys and features of collected rows in compute_features' schema (extra columns dropped)."""
    columns = [table.column(c) for c in (*KEY_COLUMNS, *FEATURE_COLUMNS)]
    schema = _schema()
    return pa.Table.from_arrays(
        [c.cast(f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )


def compute_features_spark(
    spark: SparkSession,
    pairs: pa.Table,
    *,
    lookback_days: int = 90,
    label_window_days: int = 7,
    plan: str | None = None,
) -> pa.Table:
    """compute.compute_features on Spark: the same rows, order and types, from Arrow pairs."""
    feats = spark_features(
        spark,
        query_frame(spark, pairs),
        lookback_days=lookback_days,
        label_window_days=label_window_days,
        plan=plan,
    )
    try:
        return features_to_arrow(feats)
    finally:
        feats.unpersist()
