"""The daily run for date D: six recorded steps, each idempotent and atomic for D."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from offerrank.config import Settings
from offerrank.pipeline.context import RunContext
from offerrank.pipeline.evaluation import step_drift, step_evaluate
from offerrank.pipeline.runs import StepLog, StepOutcome, mark_stale_running
from offerrank.pipeline.steps import step_candidates, step_features, step_rank, step_train
from offerrank.store.db import connect, transaction
from offerrank.store.migrations import migrate

STEPS: tuple[tuple[str, Callable[[RunContext], str]], ...] = (
    ("features", step_features),
    ("train", step_train),
    ("candidates", step_candidates),
    ("rank", step_rank),
    ("drift", step_drift),
    ("evaluate", step_evaluate),
)


@dataclass
class RunResult:
    run_date: date
    run_id: str
    steps: list[StepOutcome]
    metrics: dict[str, float]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.status in ("success", "skipped") for s in self.steps)


def run_daily(
    settings: Settings,
    run_date: date,
    on_step: Callable[[str], None] | None = None,
) -> RunResult:
    """Run every step for `run_date`; a failing step stops the run and is re-raised."""
    store = connect(settings.db_path)
    ctx = RunContext(settings=settings, run_date=run_date, store=store)
    try:
        migrate(store)
        mark_stale_running(store)
        log = StepLog(store, run_date)
        with transaction(store):
            store.execute(
                "INSERT OR REPLACE INTO run_config VALUES (?, ?, ?)",
                (ctx.day, log.run_id, settings.as_json()),
            )
        for name, fn in STEPS:
            if on_step:
                on_step(name)
            with log.step(name) as info:
                info["detail"] = fn(ctx)
            ctx.put_metrics({f"duration_{name}_s": log.outcomes[-1].duration_s})
        _drop_stale_metrics(ctx)
        return RunResult(run_date, log.run_id, log.outcomes, ctx.metrics, ctx.notes)
    finally:
        if ctx.engine is not None:
            ctx.engine.close()
        store.close()


def _drop_stale_metrics(ctx: RunContext) -> None:
    """A rerun replaces the date's metrics: drop those this run did not produce."""
    names = list(ctx.metrics)
    with transaction(ctx.store):
        ctx.store.execute(
            f"DELETE FROM run_metrics WHERE run_date = ? AND metric NOT IN "
            f"({', '.join('?' * len(names))})",
            (ctx.day, *names),
        )
