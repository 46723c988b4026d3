"""The evaluation step on Spark: out-of-sample impressions, their labels and features
and the offers' attributes come from Spark; the metrics are the DuckDB path's own
functions (`evaluate_impressions`, coverage, diversity) run on the collected inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from offerrank.pipeline.context import RunContext
from offerrank.pipeline.evaluation import EVALUATION_META_SQL, evaluate_with, list_metrics
from offerrank.spark.session import get_spark
from offerrank.spark.training import featurize_spark, labelled_rows
from offerrank.training.models import predict_proba

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import SparkSession


def step_evaluate(ctx: RunContext) -> str:
    """pipeline.evaluation.step_evaluate with the labelled rows and features from Spark."""
    assert ctx.model is not None
    spark, model, s = get_spark(), ctx.model.model, ctx.settings

    def score(rows: pa.Table) -> tuple[int, np.ndarray, pd.DataFrame]:
        data = featurize_spark(spark, rows, s)
        return data.n, data.y, evaluation_frame(spark, rows, predict_proba(model, data.X))

    return evaluate_with(
        ctx, lambda: list_quality(spark, ctx), lambda w: labelled_rows(spark, w), score
    )


def evaluation_frame(spark: SparkSession, rows: pa.Table, probs: np.ndarray) -> pd.DataFrame:
    """Each evaluated impression's customer, offer, label, category and unit margin, with
    its score, in impression order (the metrics' input)."""
    keys = rows.select(["impression_id", "customer_id", "offer_id", "label"])
    spark.createDataFrame(keys).createOrReplaceTempView("eval_rows")
    try:
        meta = spark.sql(EVALUATION_META_SQL).toArrow().to_pandas()
    finally:
        spark.catalog.dropTempView("eval_rows")
    meta["score"] = probs
    return meta


def list_quality(spark: SparkSession, ctx: RunContext) -> dict[str, float | None]:
    """Coverage of today's active offers and category diversity of the lists."""
    recs = ctx.recommendations
    assert recs is not None
    spark.createDataFrame(recs.select(["customer_id", "offer_id", "rank"])).createOrReplaceTempView(
        "recs"
    )
    try:
        cats = spark.sql(
            "SELECT r.customer_id, p.category FROM recs r JOIN offers o USING (offer_id)"
            " JOIN products p ON p.product_id = o.product_id ORDER BY r.customer_id, r.rank"
        ).toArrow()
        active = spark.sql(
            "SELECT offer_id FROM offers WHERE start_date <= :d AND end_date >= :d",
            args={"d": ctx.run_date},
        ).toArrow()
    finally:
        spark.catalog.dropTempView("recs")
    return list_metrics(recs, cats, active)
