"""The six steps of a daily run. Each reads the context, computes, and swaps its outputs
for the run date in one transaction; each returns a one-line summary for pipeline_runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from offerrank.delivery.served import add_reasons
from offerrank.errors import RunError
from offerrank.features.engine import open_engine
from offerrank.pipeline import recall_days
from offerrank.pipeline.context import RunContext
from offerrank.pipeline.curves import store_curves
from offerrank.pipeline.retrain import retrain_reason
from offerrank.pipeline.runs import StepSkipped
from offerrank.ranking.candidates import (
    RecallDay,
    candidate_recall,
    generate_candidates,
    rules_key,
)
from offerrank.ranking.margin import ranking_key, unit_margin
from offerrank.ranking.rank import rank_within_customer, score_pairs
from offerrank.ranking.serving import served_top_k
from offerrank.store.db import insert_arrow
from offerrank.tracking.mlflow_tracking import track_training
from offerrank.training.dataset import last_mature_day, training_split
from offerrank.training.registry import ArtifactProblem, load_active, save_model
from offerrank.training.train import TrainResult, train_models


def plan_model(ctx: RunContext) -> None:
    """Find the active model and whether to retrain, before any data is read.

    Knowing it first lets the features step read only the history it will use: the
    training window's lookback on a retraining day, the evaluation window's otherwise.
    """
    try:
        ctx.active = load_active(ctx.store)
    except ArtifactProblem as exc:
        ctx.notes.append(f"warning: {exc}; retraining")
        ctx.active = None
    ctx.retrain_reason = retrain_reason(
        ctx.store, ctx.run_date, ctx.settings, have_model=ctx.active is not None
    )


def history_start(ctx: RunContext) -> date:
    """The earliest order date the run reads (after `plan_model`): the lookback before the
    training window on a retraining day, before the evaluation window otherwise."""
    s = ctx.settings
    if ctx.retrain_reason:
        first_day = training_split(ctx.run_date, s).train.first
    else:
        first_day = last_mature_day(ctx.run_date, s) - timedelta(days=s.eval_days - 1)
    return first_day - timedelta(days=s.lookback_days)


def step_features(ctx: RunContext) -> str:
    """Load the contract tables (as Arrow) into DuckDB and check the date is runnable."""
    s = ctx.settings
    plan_model(ctx)
    ctx.engine = open_engine(s.db_path, since=history_start(ctx), cache_dir=s.cache_dir)
    con = ctx.engine
    first_order = con.sql("SELECT MIN(order_date) FROM orders").fetchall()[0][0]
    if first_order is None or first_order >= ctx.run_date:
        raise RunError(
            f"no orders before {ctx.day}: the store's data starts "
            f"{first_order or 'nowhere (no orders)'}; choose a later --date"
        )
    ctx.active_offers = con.sql(
        "SELECT COUNT(*) FROM offers WHERE start_date <= ? AND end_date >= ?",
        params=[ctx.run_date, ctx.run_date],
    ).fetchall()[0][0]
    eligible = con.sql(
        "SELECT COUNT(*) FROM customers WHERE signup_date IS NULL OR signup_date <= ?",
        params=[ctx.run_date],
    ).fetchall()[0][0]
    ctx.put_metrics({"active_offers": ctx.active_offers, "eligible_customers": eligible})
    return f"{ctx.active_offers} active offers, {eligible} eligible customers"


def step_train(ctx: RunContext) -> str:
    """Retrain on schedule, without a usable model or after drift; else load the active one."""

    def fit() -> TrainResult:
        assert ctx.engine is not None
        return train_models(ctx.engine, ctx.run_date, ctx.settings)

    return train_with(ctx, fit)


def train_with(ctx: RunContext, fit: Callable[[], TrainResult]) -> str:
    """The train step around any engine's `fit` (build the training set, fit, calibrate):
    skip when no retrain is due, keep the active model when labels are too thin, else
    switch the registry to the new model with its curves and metrics in one swap."""
    s = ctx.settings
    active, reason = ctx.active, ctx.retrain_reason
    if reason is None:
        assert active is not None
        ctx.model = active
        ctx.put_metrics({"retrained": 0})
        raise StepSkipped(f"using {active.version} (no retrain due: not a scheduled day, no drift)")
    try:
        result = fit()
    except RunError as exc:
        if active is None:
            raise
        ctx.model = active
        ctx.put_metrics({"retrained": 0})
        raise StepSkipped(
            f"retrain due ({reason}) but too few mature labels; kept {active.version}"
        ) from exc
    ctx.put_metrics({"retrained": 1, **result.metrics})
    with ctx.outputs() as con:  # the registry switch, its curves and metrics: one swap
        save_model(con, s.models_dir, result.version, result.model, result.sidecar)
        store_curves(ctx, validation=(result.data.validation.y, result.validation_scores))
    ctx.model = load_active(ctx.store)
    ctx.retrained = True
    active_version = ctx.model.version if ctx.model else None
    ctx.notes += track_training(s, result, ctx.run_date, reason, active_version)
    m = result.metrics
    auc_lr, auc_gbm = m.get("val_auc_lr", float("nan")), m.get("val_auc_lgbm", float("nan"))
    return (
        f"retrained ({reason}): {result.version}; validation AUC LR {auc_lr:.4f},"
        f" LightGBM {auc_gbm:.4f}; {int(m['train_rows'])} training rows"
        f" ({int(m['train_positives'])} positive)"
    )


def step_candidates(ctx: RunContext) -> str:
    assert ctx.engine is not None
    s = ctx.settings
    ctx.candidates = generate_candidates(ctx.engine, ctx.run_date, s)
    n = ctx.candidates.num_rows
    customers = len(np.unique(ctx.candidates.column("customer_id").to_numpy())) if n else 0
    engine = ctx.engine
    return record_candidates(
        ctx, n, customers, lambda a, b, known: candidate_recall(engine, a, b, s, known)
    )


RecallFn = Callable[[date, date, dict[date, RecallDay]], tuple[float | None, int, list[RecallDay]]]


def record_candidates(ctx: RunContext, n: int, customers: int, recall_fn: RecallFn) -> str:
    """The candidates step's metrics for any engine: the pool's size, and the rules' recall
    over the recent mature days (`recall_fn`), reusing and storing the days measured."""
    s = ctx.settings
    last = last_mature_day(ctx.run_date, s)
    first, key = last - timedelta(days=s.eval_days - 1), rules_key(s)
    known = recall_days.load_known(ctx.store, key, first, last)
    recall, positives, days = recall_fn(first, last, known)
    ctx.put_metrics(
        {
            "candidate_pool_size": n,
            "customers_with_candidates": customers,
            "candidate_recall": recall,
            "candidate_recall_positives": positives,
        }
    )
    with ctx.outputs() as con:
        recall_days.save_days(con, key, days)
    if ctx.active_offers == 0:
        return "no active offers on this date: no candidates"
    recall_txt = "n/a" if recall is None else f"{recall:.3f} of {positives} recent positives"
    return f"{n} pairs for {customers} customers; candidate recall {recall_txt}"


def step_rank(ctx: RunContext) -> str:
    """Score every candidate, keep the top K per customer, replace the date's recommendations."""
    assert ctx.engine is not None and ctx.model is not None and ctx.candidates is not None
    con = ctx.engine
    scored = score_pairs(con, ctx.candidates, ctx.run_date, ctx.model.model, ctx.settings)
    ctx.scoring_features, ctx.scoring_matrix = scored.features, scored.X
    return serve_and_write(ctx, scored.features, scored.scores, lambda ids: unit_margin(con, ids))


def serve_and_write(
    ctx: RunContext,
    feats: pa.Table,
    scores: np.ndarray,
    unit_margins: Callable[[np.ndarray], np.ndarray],
    engine_note: str = "",
) -> str:
    """Both engines' end of the rank step: rank the scored pairs by the configured key
    (probability, or expected margin with `unit_margins` read only then), choose the
    served top K and replace the date's recommendations."""
    assert ctx.model is not None
    s = ctx.settings
    ctx.scores = scores
    cust, offer = feats.column("customer_id").to_numpy(), feats.column("offer_id").to_numpy()
    margin = unit_margins(offer) if s.rank_by == "expected_margin" else None
    key = ranking_key(scores, margin, s.rank_by)
    ctx.ranks = rank_within_customer(cust, offer, key)
    ranked = served_top_k(cust, offer, scores, key, s, ctx.run_date, rank=ctx.ranks)
    n = ranked.num_rows
    recs = ranked.append_column(
        "run_date", pa.repeat(pa.scalar(ctx.day, pa.string()), n)
    ).append_column("model_version", pa.repeat(pa.scalar(ctx.model.version, pa.string()), n))
    recs = add_reasons(ctx, feats, recs)
    customers = len(np.unique(ranked.column("customer_id").to_numpy())) if n else 0
    ctx.put_metrics(
        {
            "recommendations_written": n,
            "customers_with_recommendations": customers,
            "top_k": s.top_k,
        }
    )
    with ctx.outputs() as con:
        con.execute("DELETE FROM recommendations WHERE run_date = ?", (ctx.day,))
        insert_arrow(con, "recommendations", recs)
    ctx.recommendations = ranked
    if ctx.active_offers == 0:
        return "no active offers on this date: 0 recommendations written"
    return f"{n} recommendations for {customers} customers (model {ctx.model.version}{engine_note})"
