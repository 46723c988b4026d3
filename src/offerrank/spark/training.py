"""The point-in-time training set built on Spark; the models still fit on one node.

Labels come from `impression_labels` (the same SQL file as DuckDB's) and features from
the Spark feature stages with as_of = shown_date. The downsampling draw is the driver's
(`downsample_negatives` with the same seed over the same impression order), so both
engines keep the same rows; only the kept rows' features are collected as Arrow.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa

from offerrank.config import Settings
from offerrank.spark.features import compute_features_spark
from offerrank.training.dataset import (
    LabelledSet,
    TrainingData,
    Window,
    downsampled_train_rows,
    labelled_set,
    training_split,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_ROW_TYPES = pa.schema(
    [
        ("impression_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("offer_id", pa.int64()),
        ("as_of", pa.date32()),
        ("label", pa.int32()),
    ]
)


def labelled_rows(spark: SparkSession, window: Window) -> pa.Table:
    """dataset.labelled_impressions on Spark: the window's impressions and labels, by id."""
    rows = spark.sql(
        "SELECT impression_id, customer_id, offer_id, shown_date AS as_of, label"
        " FROM impression_labels WHERE shown_date BETWEEN :first AND :last"
        " ORDER BY impression_id",
        args={"first": window.first, "last": window.last},
    ).toArrow()
    return rows.cast(_ROW_TYPES)


def featurize_spark(spark: SparkSession, rows: pa.Table, settings: Settings) -> LabelledSet:
    """dataset.featurize on Spark: features as of each row's shown date, in row order."""
    feats = compute_features_spark(
        spark,
        rows.select(["customer_id", "offer_id", "as_of"]),
        lookback_days=settings.lookback_days,
        label_window_days=settings.label_window_days,
    )
    return labelled_set(rows, feats)


def spark_training_data(spark: SparkSession, run_date: date, settings: Settings) -> TrainingData:
    """dataset.build_training_data on Spark: the same split, draw, rows and values."""
    split = training_split(run_date, settings)
    train_rows, kept_rate, positive_rate = downsampled_train_rows(
        labelled_rows(spark, split.train), run_date, settings
    )
    val_rows = labelled_rows(spark, split.validation)
    # One feature pass for both splits: Spark's cost is mostly per pass, not per row.
    both = featurize_spark(spark, pa.concat_tables([train_rows, val_rows]), settings)
    n = train_rows.num_rows
    return TrainingData(
        split=split,
        train=LabelledSet(keys=both.keys.slice(0, n), X=both.X[:n], y=both.y[:n]),
        validation=LabelledSet(keys=both.keys.slice(n), X=both.X[n:], y=both.y[n:]),
        kept_negative_rate=kept_rate,
        train_positive_rate=positive_rate,
    )
