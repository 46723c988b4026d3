"""The daily run's steps on Spark (`engine = "spark"`): features, training set, candidates,
scoring and evaluation run as Spark SQL and Spark jobs; model fitting, the top-K choice
over the collected scores, drift and explanations run on the driver, exactly as on DuckDB.

Outputs go to the SQLite store through the same tables and transactions as the DuckDB
steps. Run state lives in the shared session: the contract tables and labels as cached
temp views, today's candidates as `run_candidates`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from offerrank.errors import RunError
from offerrank.pipeline.context import RunContext
from offerrank.pipeline.daily import STEPS
from offerrank.pipeline.steps import (
    history_start,
    plan_model,
    record_candidates,
    serve_and_write,
    train_with,
)
from offerrank.ranking.margin import UNIT_MARGIN_SQL, checked_margins, margin_query
from offerrank.ranking.rank import feature_matrix
from offerrank.spark.candidates import spark_candidate_recall, spark_candidates
from offerrank.spark.evaluation import step_evaluate
from offerrank.spark.features import number_pairs, spark_features, typed_features
from offerrank.spark.scoring import SCORE_COLUMN, score_frame
from offerrank.spark.session import get_spark
from offerrank.spark.sql import run_sql
from offerrank.spark.tables import build_labels, load_parquet, load_store
from offerrank.training.train import fit_models

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

INPUT_ENV = "OFFERRANK_SPARK_INPUT"  # a Parquet folder; unset: read the SQLite store
CANDIDATES_VIEW = "run_candidates"


def one_row(frame: DataFrame) -> tuple:
    """The single row of an aggregate query, as a tuple."""
    row = frame.first()
    assert row is not None, "an aggregate without GROUP BY returns one row"
    return tuple(row)


def step_features(ctx: RunContext) -> str:
    """Register the contract tables (Parquet or the store) and the labels; check the date."""
    s = ctx.settings
    plan_model(ctx)
    earliest = history_start(ctx)
    spark = get_spark()
    spark.catalog.clearCache()  # whatever an earlier run (or a failed one) left cached
    folder = os.environ.get(INPUT_ENV)
    if folder:
        load_parquet(spark, Path(folder), since=earliest)
    else:
        load_store(spark, s.db_path, since=earliest)
    build_labels(spark, s.label_window_days)
    day = {"d": ctx.run_date}
    first_order = one_row(spark.sql("SELECT MIN(order_date) FROM orders"))[0]
    if first_order is None or first_order >= ctx.run_date:
        raise RunError(
            f"no orders before {ctx.day}: the store's data starts "
            f"{first_order or 'nowhere (no orders)'}; choose a later --date"
        )
    ctx.active_offers = one_row(
        spark.sql("SELECT COUNT(*) FROM offers WHERE start_date <= :d AND end_date >= :d", args=day)
    )[0]
    eligible = one_row(
        spark.sql(
            "SELECT COUNT(*) FROM customers WHERE signup_date IS NULL OR signup_date <= :d",
            args=day,
        )
    )[0]
    ctx.put_metrics({"active_offers": ctx.active_offers, "eligible_customers": eligible})
    source = f"Parquet {folder}" if folder else "the store"
    return f"{ctx.active_offers} active offers, {eligible} eligible customers (Spark, {source})"


def step_train(ctx: RunContext) -> str:
    """pipeline.steps.step_train with the training set built on Spark."""
    from offerrank.spark.training import spark_training_data

    s = ctx.settings
    return train_with(
        ctx, lambda: fit_models(spark_training_data(get_spark(), ctx.run_date, s), ctx.run_date, s)
    )


def step_candidates(ctx: RunContext) -> str:
    """Today's candidates as the cached view `run_candidates`, and the rules' recall."""
    s, spark = ctx.settings, get_spark()
    cands = spark_candidates(spark, ctx.run_date, s).cache()
    cands.createOrReplaceTempView(CANDIDATES_VIEW)
    n, customers = one_row(
        spark.sql(f"SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM {CANDIDATES_VIEW}")
    )
    return record_candidates(
        ctx, n, customers, lambda a, b, known: spark_candidate_recall(spark, a, b, s, known)
    )


def scored_candidates(ctx: RunContext) -> pa.Table:
    """Features and calibrated scores of today's candidates, scored on the executors and
    collected in (customer_id, offer_id) order, the order of the DuckDB path's candidates."""
    assert ctx.model is not None
    s, spark = ctx.settings, get_spark()
    query = spark.sql(
        f"SELECT customer_id, offer_id, :d AS as_of FROM {CANDIDATES_VIEW}",
        args={"d": ctx.run_date},
    )
    feats = spark_features(
        spark,
        number_pairs(query),
        lookback_days=s.lookback_days,
        label_window_days=s.label_window_days,
    )
    try:
        table = score_frame(feats, ctx.model.model).orderBy("customer_id", "offer_id").toArrow()
    finally:
        feats.unpersist()
    scores = table.column(SCORE_COLUMN).cast(pa.float64())
    return typed_features(table).append_column(SCORE_COLUMN, scores)


def unit_margins(offer_ids: np.ndarray) -> np.ndarray:
    """ranking.margin.unit_margin on Spark: the same SQL, for each offer id in input order."""
    spark = get_spark()
    spark.createDataFrame(margin_query(offer_ids)).createOrReplaceTempView("margin_query")
    return checked_margins(offer_ids, run_sql(spark, UNIT_MARGIN_SQL, {}).toArrow())


def step_rank(ctx: RunContext) -> str:
    """Score every candidate on Spark, then choose and write the top K per customer as the
    DuckDB path does, on the collected scores."""
    table = scored_candidates(ctx)
    feats = table.drop_columns([SCORE_COLUMN])
    ctx.scoring_features, ctx.scoring_matrix = feats, feature_matrix(feats)
    scores = table.column(SCORE_COLUMN).to_numpy()
    return serve_and_write(ctx, feats, scores, unit_margins, engine_note=", Spark")


# The daily run's steps, in its order; explain and drift work on what the others collected.
_ON_SPARK: dict[str, Callable[[RunContext], str]] = {
    "features": step_features,
    "train": step_train,
    "candidates": step_candidates,
    "rank": step_rank,
    "evaluate": step_evaluate,
}
SPARK_STEPS: tuple[tuple[str, Callable[[RunContext], str]], ...] = tuple(
    (name, _ON_SPARK.get(name, fn)) for name, fn in STEPS
)
