"""The evaluation step on Spark: out-of-sample impressions, their labels and features
and the offers' attributes come from Spark; the metrics are the DuckDB path's own
functions (`evaluate_impressions`, coverage, diversity) run on the collected inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.monitoring.metrics import coverage, diversity
from offerrank.pipeline.context import RunContext
from offerrank.pipeline.curves import store_curves
from offerrank.pipeline.evaluation import _oracle_auc, evaluate_impressions, evaluation_window
from offerrank.pipeline.runs import StepSkipped
from offerrank.spark.session import get_spark
from offerrank.spark.training import featurize_spark, labelled_rows
from offerrank.training.models import predict_proba

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import SparkSession

_META_SQL = """
SELECT r.customer_id, r.offer_id, r.label, p.category,
       p.list_price * (1 - o.discount_pct) - p.unit_cost AS margin
FROM eval_rows r
JOIN offers o ON o.offer_id = r.offer_id
JOIN products p ON p.product_id = o.product_id
ORDER BY r.impression_id
"""


def step_evaluate(ctx: RunContext) -> str:
    """pipeline.evaluation.step_evaluate with its inputs built on Spark."""
    assert ctx.model is not None
    s, spark = ctx.settings, get_spark()
    values: dict[str, float | None] = {}
    if ctx.recommendations is not None and ctx.recommendations.num_rows:
        values.update(list_quality(spark, ctx))
    window = evaluation_window(ctx)
    rows = labelled_rows(spark, window) if window.first <= window.last else None
    if rows is None or rows.num_rows == 0 or not pc.sum(rows.column("label")).as_py():
        ctx.put_metrics(values)
        raise StepSkipped(
            f"no out-of-sample mature impressions with a positive in {window.first}..{window.last}"
        )
    data = featurize_spark(spark, rows, s)
    frame = evaluation_frame(spark, rows, predict_proba(ctx.model.model, data.X))
    values.update(evaluate_impressions(frame, s.eval_k, s.bootstrap_samples, s.seed))
    oracle = _oracle_auc(ctx, rows, data.y)
    if oracle is not None:
        values["oracle_auc"] = oracle
    values["eval_window_days"] = (window.last - window.first).days + 1
    ctx.put_metrics(values)
    with ctx.outputs():  # curves and metrics in one swap
        store_curves(ctx, evaluation=frame)
    auc = values.get("auc")
    return (
        f"{data.n} impressions {window.first}..{window.last}: AUC "
        + (f"{auc:.4f}" if auc is not None else "n/a")
        + (f" (oracle {oracle:.4f})" if oracle is not None else "")
        + f", precision@{s.eval_k} {values.get('precision_at_k', float('nan')):.4f}"
    )


def evaluation_frame(spark: SparkSession, rows: pa.Table, probs: np.ndarray) -> pd.DataFrame:
    """Each evaluated impression's customer, offer, label, category and unit margin, with
    its score, in impression order (the metrics' input)."""
    keys = rows.select(["impression_id", "customer_id", "offer_id", "label"])
    spark.createDataFrame(keys).createOrReplaceTempView("eval_rows")
    try:
        meta = spark.sql(_META_SQL).toArrow().to_pandas()
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
    return {
        "coverage": coverage(
            recs.column("offer_id").to_numpy(), active.column("offer_id").to_numpy()
        ),
        "diversity": diversity(
            cats.column("customer_id").to_numpy(),
            cats.column("category").to_numpy(zero_copy_only=False),
        ),
    }
