"""Distributed scoring: the model travels as text (LightGBM's model string or the LR JSON)
in a broadcast, and each executor scores its Arrow batches with the project's own
`predict_proba` on the same `feature_matrix` column order as the DuckDB path.

`mapInArrow` is `mapInPandas`'s Arrow twin: the batches reach the model as Arrow
columns without a pandas conversion (PySpark does not yet fully support pandas 3).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from offerrank.training.models import Ranker

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SCORE_COLUMN = "score"


def score_batches(
    batches: Iterator[pa.RecordBatch], kind: str, text: str, shift: float
) -> Iterator[pa.RecordBatch]:
    """Each batch with a `score` column: the model is rebuilt once per task, from text."""
    from offerrank.ranking.rank import feature_matrix
    from offerrank.training.models import load_model, predict_proba

    model = load_model(kind, text, shift)
    for batch in batches:
        table = pa.Table.from_batches([batch])
        scores = predict_proba(model, feature_matrix(table)) if batch.num_rows else np.zeros(0)
        yield batch.append_column(SCORE_COLUMN, pa.array(scores, pa.float64()))


def score_frame(features: DataFrame, model: Ranker) -> DataFrame:
    """`features` (with every FEATURE_COLUMN) plus the calibrated score, computed where
    the rows are; nothing but the model text is sent to the executors."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    spark = features.sparkSession
    payload = spark.sparkContext.broadcast((model.kind, model.to_text(), model.log_odds_shift))

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        kind, text, shift = payload.value
        return score_batches(batches, kind, text, shift)

    schema = StructType([*features.schema.fields, StructField(SCORE_COLUMN, DoubleType(), False)])
    return features.mapInArrow(score, schema)
