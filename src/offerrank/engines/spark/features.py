"""Point-in-time features on Spark: the feature SQL files, stage by stage, as temp views.

The stages, their order, the plan choice and the SQL text are those of
`offerrank.features.plans`; only the engine differs. Each stage that DuckDB
materialises as a table is cached here, each DuckDB view stays a view, and the final
result (the contract's features, joined by row_id to each extra feature's own file) is
checkpointed so that the stages can be released at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyarrow as pa

from offerrank.engines import queries
from offerrank.engines.base import SqlQuery
from offerrank.engines.spark.sql import run_file, run_sql
from offerrank.engines.spark.tables import ensure_labels
from offerrank.features.plans import (
    ASSEMBLY,
    JOIN_PLAN_MAX_DATES,
    PLAN_FILES,
    QUERY_TABLE,
    STAGES,
    VIEW_STAGES,
    check_parameters,
    plan_for,
)
from offerrank.features.registry import (
    DEFAULT_FEATURES,
    KEY_COLUMNS,
    FeatureSet,
    query_pairs,
    typed_features,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def query_frame(spark: SparkSession, pairs: pa.Table) -> DataFrame:
    """Requested rows from the driver (Arrow), typed and numbered as DuckDB numbers them."""
    return spark.createDataFrame(query_pairs(pairs))


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
    """`plans.plan_for` on a few distinct as_of dates (not every row): the rule depends
    only on how many distinct dates there are, up to a small bound."""
    dates = query.select("as_of").distinct().limit(JOIN_PLAN_MAX_DATES + 1).count()
    return plan_for(dates)


@contextmanager
def staged(
    spark: SparkSession, query: DataFrame, params: dict[str, int], plan: str | None = None
) -> Iterator[None]:
    """`query` registered as `query_pairs` and every feature stage built for it as a
    temp view (cached where DuckDB materialises a table); all released after."""
    ensure_labels(spark, params["label_window"])
    # Materialised first: a plan holding a non-deterministic row id never matches a
    # cached plan (every cached stage above it would be recomputed at each use), and a
    # large local relation would be copied into, and compared within, every stage's plan.
    query = query.localCheckpoint(eager=True)
    query.createOrReplaceTempView(QUERY_TABLE)
    files = PLAN_FILES[plan or choose_plan(query)]
    built: list[DataFrame] = []
    try:
        for stage in STAGES:
            frame = run_file(spark, files[stage], params)
            if stage not in VIEW_STAGES:
                # Checkpointed, not cached: a later stage reads the view by name, and a
                # cached plan is reused only when Spark matches the plans, which it failed
                # to do for stages holding scalar subqueries (each reader recomputed them).
                frame = frame.localCheckpoint(eager=True)
                built.append(frame)
            frame.createOrReplaceTempView(stage)
        yield
    finally:
        for frame in (query, *built):
            release(frame)
        for stage in (*STAGES, QUERY_TABLE, queries.ALL_PAIRS):
            spark.catalog.dropTempView(stage)


def release(frame: DataFrame) -> None:
    """Free what a frame holds: a checkpoint's blocks (`localCheckpoint`), which Spark
    keeps until the JVM happens to collect the RDD, or a cached frame's cache. A frame
    computed from a released checkpoint fails rather than reading stale data."""
    plan = frame._jdf.queryExecution().analyzed()
    if plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)
    else:
        frame.unpersist()


def assembled(spark: SparkSession, feature_set: FeatureSet, params: dict[str, int]) -> DataFrame:
    """row_id, keys and the set's features of the staged `query_pairs` (inside `staged`):
    `pair_features.sql`, joined by row_id to each extra feature's own file."""
    core = [f.name for f in feature_set.features if f.sql is None]
    result = run_file(spark, ASSEMBLY, params).select("row_id", *KEY_COLUMNS, *core)
    for (package, stem), features in feature_set.files().items():
        extra = run_file(spark, stem, params, package)
        result = result.join(
            extra.select("row_id", *[extra[f.name].cast("double").alias(f.name) for f in features]),
            "row_id",
            "left",
        )
    return result.select("row_id", *KEY_COLUMNS, *feature_set.columns)


def spark_features(
    spark: SparkSession,
    query: DataFrame,
    *,
    lookback_days: int = 90,
    label_window_days: int = 7,
    plan: str | None = None,
    feature_set: FeatureSet = DEFAULT_FEATURES,
    then: SqlQuery | None = None,
) -> DataFrame:
    """row_id, customer_id, offer_id, as_of and the feature set's columns of every row of
    `query`; with `then`, the result of that statement over them instead (it reads them as
    `pair_features_all`: the first stage of retrieval).

    `query` comes from `query_frame` or `number_pairs`; the contract tables must be
    registered. The result is checkpointed (computed once, lineage cut) and every stage
    is released, so the caller may run the next batch at once; `release` it when done.
    """
    params = check_parameters(lookback_days, label_window_days)
    with staged(spark, query, params, plan):
        result = assembled(spark, feature_set, params)
        if then is not None:
            result.createOrReplaceTempView(queries.ALL_PAIRS)
            result = run_sql(spark, then.sql, then.params)
        return result.localCheckpoint(eager=True)


def features_to_arrow(features: DataFrame, feature_set: FeatureSet = DEFAULT_FEATURES) -> pa.Table:
    """The features on the driver in row_id order (the input order), typed like DuckDB's."""
    return typed_features(features.orderBy("row_id").toArrow(), feature_set)


def compute_features_spark(
    spark: SparkSession,
    pairs: pa.Table,
    *,
    lookback_days: int = 90,
    label_window_days: int = 7,
    plan: str | None = None,
    feature_set: FeatureSet = DEFAULT_FEATURES,
) -> pa.Table:
    """The DuckDB engine's compute_features on Spark: the same rows, order and types."""
    feats = spark_features(
        spark,
        query_frame(spark, pairs),
        lookback_days=lookback_days,
        label_window_days=label_window_days,
        plan=plan,
        feature_set=feature_set,
    )
    try:
        return features_to_arrow(feats, feature_set)
    finally:
        release(feats)
