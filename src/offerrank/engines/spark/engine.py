"""The Spark engine: contract tables as cached Spark views, the shared SQL transpiled.

Features, candidates and scoring run as Spark SQL and Spark jobs (the model is broadcast
and scores on the executors); the rows a step needs whole come back as Arrow. Input is
the SQLite store, or a folder of Parquet files named after the contract tables
(`OFFERRANK_SPARK_INPUT`, for data that lives on a cluster's storage).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from offerrank.config import Settings
from offerrank.engines import queries
from offerrank.engines.base import CandidatePool, Scored, Scorer, SqlQuery
from offerrank.engines.common import SqlEngine
from offerrank.engines.spark.features import compute_features_spark, number_pairs, spark_features
from offerrank.engines.spark.scoring import SCORE_COLUMN, score_frame
from offerrank.engines.spark.session import get_spark
from offerrank.engines.spark.sql import run_sql
from offerrank.engines.spark.tables import build_labels, load_parquet, load_store
from offerrank.features.registry import (
    DEFAULT_FEATURES,
    FeatureSet,
    feature_matrix,
    typed_features,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INPUT_ENV = "OFFERRANK_SPARK_INPUT"  # a Parquet folder; unset: read the SQLite store
POOL_VIEW = "run_candidates"


class SparkEngine(SqlEngine):
    name = "spark"

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
        folder = os.environ.get(INPUT_ENV)
        if folder:
            load_parquet(spark, Path(folder), since=since)
        else:
            load_store(spark, s.db_path, since=since)
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

    def candidate_pool(self, query: SqlQuery) -> CandidatePool:
        spark = self.spark
        if spark.catalog.tableExists(POOL_VIEW):
            spark.table(POOL_VIEW).unpersist()
        spark.sql(queries.ALL_CUSTOMERS).createOrReplaceTempView("candidate_scope")
        run_sql(spark, query.sql, query.params).cache().createOrReplaceTempView(POOL_VIEW)
        counts = spark.sql(queries.POOL_COUNTS.format(pool=POOL_VIEW)).first()
        assert counts is not None, "an aggregate without GROUP BY returns one row"
        return CandidatePool(POOL_VIEW, query.params["as_of"], int(counts[0]), int(counts[1]))

    def score(self, pool: CandidatePool, model: Scorer) -> Scored:
        """Features and scores computed on the executors, collected in (customer_id,
        offer_id) order, the order of the DuckDB engine's pool."""
        s = self.settings
        rows = run_sql(self.spark, queries.POOL_PAIRS.format(pool=pool.name), {"as_of": pool.as_of})
        feats = spark_features(
            self.spark,
            number_pairs(rows),
            lookback_days=s.lookback_days,
            label_window_days=s.label_window_days,
        )
        try:
            table = score_frame(feats, model).orderBy("customer_id", "offer_id").toArrow()
        finally:
            feats.unpersist()
        features = typed_features(table)
        scores = table.column(SCORE_COLUMN).cast(pa.float64()).to_numpy()
        return Scored(features, feature_matrix(features), scores)

    def close(self) -> None:
        if self._spark is not None:
            self._spark.catalog.clearCache()
