"""Distributed scoring: the model travels to the executors in a broadcast (pickled: a
LightGBM booster pickles as its model text, a logistic regression as its numbers), and
each executor scores its Arrow batches with the model's own `predict_proba` on the same
`feature_matrix` column order as the DuckDB engine.

`mapInArrow` is `mapInPandas`'s Arrow twin: the batches reach the model as Arrow
columns without a pandas conversion (PySpark does not yet fully support pandas 3).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from offerrank.engines.base import Scorer
from offerrank.features.registry import feature_matrix

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SCORE_COLUMN = "score"


def score_batches(batches: Iterator[pa.RecordBatch], model: Scorer) -> Iterator[pa.RecordBatch]:
    """Each batch with a `score` column, the calibrated probability of its features."""
    for batch in batches:
        table = pa.Table.from_batches([batch])
        scores = model.predict_proba(feature_matrix(table)) if batch.num_rows else np.zeros(0)
        yield batch.append_column(SCORE_COLUMN, pa.array(scores, pa.float64()))


def score_frame(features: DataFrame, model: Scorer) -> DataFrame:
    """`features` (with every feature column) plus the calibrated score, computed where
    the rows are; nothing but the model is sent to the executors."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    spark = features.sparkSession
    payload = spark.sparkContext.broadcast(model)

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return score_batches(batches, payload.value)

    schema = StructType([*features.schema.fields, StructField(SCORE_COLUMN, DoubleType(), False)])
    return features.mapInArrow(score, schema)
