"""Train on schedule, without a usable model or after drift; else keep the active model."""

from __future__ import annotations

from dataclasses import dataclass

from offerrank.errors import RunError
from offerrank.pipeline.context import Run
from offerrank.pipeline.curves import validation_curves
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.load import Plan
from offerrank.store import outputs
from offerrank.training.registry import ActiveModel, load_active, save_model
from offerrank.training.train import train_models


@dataclass(frozen=True)
class Trained:
    """The model the run scores with, and whether this run trained it."""

    model: ActiveModel
    retrained: bool


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
    try:
        result = train_models(run.engine, run.run_date, s)
    except RunError:
        if active is None:
            raise
        run.put_metrics({"retrained": 0})
        return Done(
            Trained(active, False),
            f"retrain due ({reason}) but too few mature labels; kept {active.version}",
            skipped=True,
        )
    run.put_metrics({"retrained": 1, **result.metrics})
    with run.outputs() as con:  # the registry switch, its curves and metrics: one swap
        save_model(con, s.models_dir, result.version, result.model, result.sidecar)
        outputs.replace_curves(
            con,
            run.day,
            validation_curves(result.data.validation.y, result.validation_scores),
        )
    model = load_active(run.store)
    assert model is not None
    m = result.metrics
    auc_lr, auc_gbm = m.get("val_auc_lr", float("nan")), m.get("val_auc_lgbm", float("nan"))
    return Done(
        Trained(model, True),
        f"retrained ({reason}): {result.version}; validation AUC LR {auc_lr:.4f},"
        f" LightGBM {auc_gbm:.4f}; {int(m['train_rows'])} training rows"
        f" ({int(m['train_positives'])} positive)",
    )
