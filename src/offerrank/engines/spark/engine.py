"""The Spark engine: contract tables as cached Spark views, the shared SQL transpiled.

Features, candidates and scoring run as Spark SQL and Spark jobs (the model is broadcast
and scores on the executors); the rows a step needs whole come back as Arrow. Input is
the SQLite store, or a folder of Parquet files named after the contract tables
(`spark_input` or `OFFERRANK_SPARK_INPUT`, for data that lives on a cluster's storage).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from offerrank.config import Settings
from offerrank.engines import queries
from offerrank.engines.base import FirstStage, Retrieval, SqlQuery
from offerrank.engines.common import SqlEngine
from offerrank.engines.grid import grid_supports
from offerrank.engines.spark.features import (
    compute_features_spark,
    number_pairs,
    release,
    spark_features,
)
from offerrank.engines.spark.grid import grid_partitions
from offerrank.engines.spark.partitions import (
    PARTITION,
    apply_by_partition,
    each_partition,
    partition_column,
)
from offerrank.engines.spark.session import get_spark
from offerrank.engines.spark.sql import run_sql
from offerrank.engines.spark.tables import build_labels, load_input
from offerrank.features.registry import CONTRACT_FEATURES, DEFAULT_FEATURES, FeatureSet

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class SparkEngine(SqlEngine):
    name = "spark"
    ROW_HASH = "xxhash64"
    # The executors hold the lines: a training window goes through in one pass, each
    # further slice would cost a whole staging of every feature stage.
    feature_chunk_days = 400

    def __init__(self, settings: Settings, spark: SparkSession | None = None):
        self.settings = settings
        self._spark = spark

    @property
    def spark(self) -> SparkSession:
        """The shared session, started on first use (not by merely choosing the engine)."""
        if self._spark is None:
            self._spark = get_spark()
        return self._spark

    def load(self, since: date | None = None) -> None:
        s, spark = self.settings, self.spark
        spark.catalog.clearCache()  # whatever an earlier run (or a failed one) left cached
        load_input(spark, s, since=since)
        build_labels(spark, s.label_window_days)

    def _query(
        self, sql: str, params: Mapping[str, Any], inputs: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        inputs = inputs or {}
        for name, table in inputs.items():
            self.spark.createDataFrame(table).createOrReplaceTempView(name)
        try:
            return run_sql(self.spark, sql, dict(params)).toArrow()
        finally:
            for name in inputs:
                self.spark.catalog.dropTempView(name)

    def features(self, rows: pa.Table, feature_set: FeatureSet = DEFAULT_FEATURES) -> pa.Table:
        s = self.settings
        return compute_features_spark(
            self.spark,
            rows,
            lookback_days=s.lookback_days,
            label_window_days=s.label_window_days,
            feature_set=feature_set,
        )

    def _first_stage(
        self, eligible: DataFrame, then: SqlQuery, feature_set: FeatureSet = DEFAULT_FEATURES
    ) -> DataFrame:
        s = self.settings
        return spark_features(
            self.spark,
            number_pairs(eligible),
            lookback_days=s.lookback_days,
            label_window_days=s.label_window_days,
            feature_set=feature_set,
            then=then,
        )

    def _ranked(self, eligible: pa.Table, first_stage: FirstStage) -> pa.Table:
        score, bound = queries.first_stage_score(
            CONTRACT_FEATURES, first_stage.weights, first_stage.bias
        )
        sql = queries.FIRST_STAGE_RANKED.format(score=score)
        ranked = self._first_stage(
            self.spark.createDataFrame(eligible),
            SqlQuery(
                f"SELECT customer_id, offer_id, as_of, retrieval_rank FROM ({sql}) AS r", bound
            ),
        )
        try:
            return ranked.toArrow().cast(RANKED_SCHEMA)
        finally:
            release(ranked)

    def pool_partitions(
        self,
        retrieval: Retrieval,
        partitions: int,
        process: Callable[[pa.Table], pa.Table],
    ) -> Iterator[pa.Table]:
        """`process` on the executors for each partition of customers (whole blocks of
        ids, as `partition_of` keeps them), over its pool by the grid scorer
        (`engines.spark.grid`) or, with `scorer = "sql"` or a pair-grain extra feature,
        by the SQL pool; only what `process` returns reaches the driver, a partition at a
        time."""
        s = self.settings
        if s.scorer == "grid" and grid_supports(retrieval.feature_set):
            yield from grid_partitions(
                self.spark,
                retrieval,
                self.active_offers(retrieval.eligible.params["as_of"]),
                partitions,
                process,
                lookback_days=s.lookback_days,
                label_window_days=s.label_window_days,
            )
        else:
            yield from self._sql_partitions(retrieval, partitions, process)

    def _sql_partitions(
        self,
        retrieval: Retrieval,
        partitions: int,
        process: Callable[[pa.Table], pa.Table],
    ) -> Iterator[pa.Table]:
        """The whole day's pool in Spark SQL: every eligible pair featurised, then ranked."""
        from pyspark.sql import functions as F

        spark, eligible = self.spark, retrieval.eligible
        spark.sql(queries.ALL_CUSTOMERS).createOrReplaceTempView("candidate_scope")
        pairs = run_sql(spark, eligible.sql, eligible.params).withColumn(
            "as_of", F.lit(eligible.params["as_of"]).cast("date")
        )
        score, bound = queries.first_stage_score(
            CONTRACT_FEATURES, retrieval.first_stage.weights, retrieval.first_stage.bias
        )
        pool = self._first_stage(
            pairs,
            SqlQuery(
                queries.FIRST_STAGE_POOL.format(score=score),
                {**bound, "per_customer": retrieval.per_customer},
            ),
            retrieval.feature_set,
        ).drop("row_id")
        keyed = pool.withColumn(PARTITION, partition_column(partitions))
        sample = process(pool_schema(pool).empty_table())
        try:
            result = apply_by_partition(
                keyed, lambda t: process(t.drop_columns([PARTITION])), sample.schema
            )
        finally:
            release(pool)
        yield from each_partition(result, partitions, sample.schema)

    def close(self) -> None:
        if self._spark is not None:
            self._spark.catalog.clearCache()


RANKED_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("offer_id", pa.int64()),
        ("as_of", pa.date32()),
        ("retrieval_rank", pa.int64()),
    ]
)


def pool_schema(pool: DataFrame) -> pa.Schema:
    """The Arrow schema `process` receives: the pool's columns as the DuckDB engine types
    them (keys, features, first_stage, retrieval_rank)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(pool.schema)
