"""Train on schedule, without a usable model or after drift; else keep the active model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from offerrank.errors import RunError
from offerrank.monitoring.curves import validation_curves
from offerrank.pipeline.context import Run
from offerrank.pipeline.promotion import Decision, decide
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.load import Plan
from offerrank.ranking.retrieval import first_stage_of, retrieval_sidecar, size_retrieval
from offerrank.store.results import outputs
from offerrank.tracking.mlflow_tracking import track_training
from offerrank.training.dataset import choose_window
from offerrank.training.registry import ActiveModel, load_active, save_model
from offerrank.training.train import train_models


@dataclass(frozen=True)
class Trained:
    """The model the run scores with, whether this run trained it (and made it active),
    and the decision about a model trained today (None when none was)."""

    model: ActiveModel
    retrained: bool
    decision: Decision | None = None


def train(run: Run, plan: Plan) -> Done[Trained]:
    """Skip when no retrain is due, keep the active model when labels are too thin, else
    switch the registry to the new model with its curves and metrics in one swap."""
    s = run.settings
    active, reason = plan.active, plan.retrain_reason
    if reason is None:
        assert active is not None, "a run without a model always has a retrain reason"
        run.put_metrics({"retrained": 0})
        return Done(
            Trained(active, False),
            f"using {active.version} (no retrain due: not a scheduled day, no drift)",
            skipped=True,
        )
    split = choose_window(run.engine, run.run_date, s)
    needed = split.train.first - timedelta(days=s.lookback_days)
    if needed < plan.history_start:  # a wider window: its older orders too
        run.engine.load(since=needed)
        run.notes.append(
            f"training window widened to {split.train.first}..{split.validation.last}"
            f" (min_train_positives {s.min_train_positives})"
        )
    try:
        result = train_models(run.engine, run.run_date, s, split)
    except RunError:
        if active is None:
            raise
        run.put_metrics({"retrained": 0})
        return Done(
            Trained(active, False),
            f"retrain due ({reason}) but too few mature labels; kept {active.version}",
            skipped=True,
        )
    first_stage = first_stage_of(
        result.logistic.mean, result.logistic.scale, result.logistic.coef, result.logistic.intercept
    )
    sizing = size_retrieval(run.engine, result.data.split.validation, first_stage, s)
    result.sidecar["retrieval"] = retrieval_sidecar(first_stage, sizing)
    result.sidecar["store_state"] = plan.store_state
    decision = decide(result, active, s)
    run.put_metrics(
        {
            "retrained": int(decision.promote),
            "model_trained": 1,
            **result.metrics,
            **decision.metrics(),
            "retrieval_sized_per_customer": sizing.per_customer,
            "retrieval_sized_recall": sizing.recall,
            "retrieval_sized_positives": sizing.positives,
        }
    )
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with run.outputs() as con:  # the registry, the decision, curves and metrics: one swap
        save_model(
            con, s.models_dir, result.version, result.model, result.sidecar, active=decision.promote
        )
        for event in ("trained", "promoted" if decision.promote else "refused"):
            outputs.record_model_event(
                con,
                outputs.ModelEvent(
                    at=now,
                    model_version=result.version,
                    event=event,
                    run_date=run.day,
                    val_auc=result.sidecar.get("val_auc"),
                    incumbent_version=decision.incumbent,
                    incumbent_auc=decision.incumbent_auc,
                    delta_ci_low=decision.ci_low,
                    delta_ci_high=decision.ci_high,
                    detail=reason if event == "trained" else decision.describe(),
                ),
            )
        outputs.replace_curves(
            con,
            run.day,
            validation_curves(result.data.validation.y, result.validation_scores),
        )
    model = load_active(run.store)
    assert model is not None
    run.notes += track_training(s, result, run.run_date, reason, model.version)
    m = result.metrics
    auc_lr, auc_gbm = m.get("val_auc_lr", float("nan")), m.get("val_auc_lgbm", float("nan"))
    trained = (
        f"retrained ({reason}): {result.version}; validation AUC LR {auc_lr:.4f},"
        f" LightGBM {auc_gbm:.4f}; {int(m['train_rows'])} training rows"
        f" ({int(m['train_positives'])} positive)"
    )
    if not decision.promote:
        return Done(
            Trained(model, False, decision),
            f"{trained}; {decision.describe()}; kept {model.version}",
        )
    return Done(Trained(model, True, decision), f"{trained}; {decision.describe()}")
