"""Plan and load: decide whether to retrain (before any data is read, so that only the
history the run will use is read), then load the store into the engine and check that
the date is runnable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from offerrank.config import Settings
from offerrank.engines.base import StoreFacts
from offerrank.errors import RunError
from offerrank.pipeline.calibration import first_scored_day
from offerrank.pipeline.context import Run
from offerrank.pipeline.retrain import retrain_reason
from offerrank.pipeline.runs import Done
from offerrank.ranking.retrieval import retrieval_of
from offerrank.store.read import inputs
from offerrank.training.dataset import training_split
from offerrank.training.registry import ActiveModel, ArtifactProblem, load_active


@dataclass(frozen=True)
class Plan:
    """The registry's active model before this run, why to retrain (None: keep it), and
    the earliest order date the run reads."""

    active: ActiveModel | None
    retrain_reason: str | None
    history_start: date
    store_state: dict[str, dict[str, int]]  # before the data is read: a model records it


@dataclass(frozen=True)
class Loaded:
    plan: Plan
    facts: StoreFacts


def history_start(run_date: date, settings: Settings, *, retraining: bool) -> date:
    """The lookback before the oldest impressions the run scores: those of the week its
    calibration is measured with (`pipeline/calibration.py`), or of the training window
    on a retraining day if it starts earlier."""
    first_day = first_scored_day(run_date, settings)
    if retraining:
        first_day = min(first_day, training_split(run_date, settings).train.first)
    return first_day - timedelta(days=settings.lookback_days)


def plan_run(run: Run) -> Plan:
    """The active model (an untrustworthy artifact is a note, and a reason to retrain) and
    whether to retrain today."""
    try:
        active = load_active(run.store)
    except ArtifactProblem as exc:
        run.notes.append(f"warning: {exc}; retraining")
        active = None
    if active is not None and retrieval_of(active.sidecar) is None:
        run.notes.append(f"{active.version} carries no learned retrieval; retraining")
        active = None
    if active is not None:
        try:
            active.features  # noqa: B018 - raises for a feature this code does not know
        except ValueError as exc:
            run.notes.append(f"warning: {active.version} cannot be served here ({exc}); retraining")
            active = None
    reason = retrain_reason(run.store, run.run_date, run.settings, active)
    start = history_start(run.run_date, run.settings, retraining=reason is not None)
    return Plan(active, reason, start, inputs.store_state(run.store))


def load(run: Run, plan: Plan) -> Done[Loaded]:
    """The store's tables on the engine (orders from the plan's history start)."""
    run.engine.load(since=plan.history_start)
    facts = run.engine.facts(run.run_date)
    if facts.first_order is None or facts.first_order >= run.run_date:
        raise RunError(_not_runnable(run, plan))
    run.put_metrics(
        {"active_offers": facts.active_offers, "eligible_customers": facts.eligible_customers}
    )
    return Done(
        Loaded(plan, facts),
        f"{facts.active_offers} active offers, {facts.eligible_customers} eligible customers"
        f" ({run.engine.name})",
    )


def _not_runnable(run: Run, plan: Plan) -> str:
    """Why the date has no orders to learn from, in the store's own terms (the engine
    holds only the orders from the plan's history start)."""
    first, last = inputs.order_dates(run.store)
    if first is None:
        return f"the store has no orders: nothing to run {run.day} on"
    if first >= run.day:
        return (
            f"no orders before {run.day}: the store's orders start {first}; choose a later --date"
        )
    return (
        f"no orders between {plan.history_start} and {run.day}, the history a run of"
        f" {run.day} reads: the store's orders run {first}..{last}; choose an earlier --date"
    )
