"""The daily run for date D: six recorded steps, each idempotent and atomic for D."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial

from offerrank.config import Settings
from offerrank.errors import OfferrankError
from offerrank.pipeline.context import RunContext
from offerrank.pipeline.evaluation import step_drift, step_evaluate
from offerrank.pipeline.explain_step import step_explain
from offerrank.pipeline.lock import run_lock
from offerrank.pipeline.precheck import check_contract
from offerrank.pipeline.runs import StepLog, StepOutcome, mark_stale_running
from offerrank.pipeline.steps import step_candidates, step_features, step_rank, step_train
from offerrank.store.db import connect, require_store, transaction
from offerrank.store.migrations import migrate

STEPS: tuple[tuple[str, Callable[[RunContext], str]], ...] = (
    ("features", step_features),
    ("train", step_train),
    ("candidates", step_candidates),
    ("rank", step_rank),
    ("explain", step_explain),
    ("drift", step_drift),
    ("evaluate", step_evaluate),
)


def steps_for(settings: Settings) -> tuple[tuple[str, Callable[[RunContext], str]], ...]:
    """The steps on the configured engine: the same names, Spark's versions for `spark`."""
    if settings.engine == "spark":
        from offerrank.spark.steps import SPARK_STEPS

        return SPARK_STEPS
    return STEPS


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
    require_store(settings.db_path)
    with run_lock(settings.db_path, settings.lock_timeout_s):
        return _run_locked(settings, run_date, on_step)


def _run_locked(
    settings: Settings, run_date: date, on_step: Callable[[str], None] | None
) -> RunResult:
    store = connect(settings.db_path)
    ctx = RunContext(settings=settings, run_date=run_date, store=store)
    try:
        migrate(store)
        mark_stale_running(store)
        log = StepLog(store, run_date)
        check_contract(ctx, log)  # before any step: no step runs on bad data
        with transaction(store):
            store.execute(
                "INSERT OR REPLACE INTO run_config VALUES (?, ?, ?)",
                (ctx.day, log.run_id, settings.as_json()),
            )
        for name, fn in steps_for(settings):
            if on_step:
                on_step(name)
            with log.step(
                name,
                on_success=partial(_finish_step, ctx, name),
                on_failure=ctx.discard_metrics,
            ) as info:
                info["detail"] = fn(ctx)
        _drop_stale_metrics(ctx)
        _write_report(ctx)
        return RunResult(run_date, log.run_id, log.outcomes, ctx.metrics, ctx.notes)
    finally:
        if ctx.engine is not None:
            ctx.engine.close()
        store.close()


def _finish_step(ctx: RunContext, name: str, con: sqlite3.Connection, seconds: float) -> None:
    """Inside the step's closing transaction: its duration and its remaining metrics."""
    ctx.put_metrics({f"duration_{name}_s": seconds})
    ctx.flush_metrics(con)


def _drop_stale_metrics(ctx: RunContext) -> None:
    """A rerun replaces the date's metrics: drop those this run did not produce."""
    names = list(ctx.metrics)
    with transaction(ctx.store):
        ctx.store.execute(
            f"DELETE FROM run_metrics WHERE run_date = ? AND metric NOT IN "
            f"({', '.join('?' * len(names))})",
            (ctx.day, *names),
        )


def completed(settings: Settings, run_date: date) -> bool:
    """Whether the latest run of `run_date` finished every step (success or skipped)."""
    con = connect(settings.db_path)
    try:
        migrate(con)
        row = con.execute(
            "SELECT run_id FROM pipeline_runs WHERE run_date = ? ORDER BY rowid DESC LIMIT 1",
            (run_date.isoformat(),),
        ).fetchone()
        if row is None:
            return False
        statuses = dict(
            con.execute(
                "SELECT step, status FROM pipeline_runs WHERE run_id = ?", (row[0],)
            ).fetchall()
        )
    finally:
        con.close()
    return all(statuses.get(name) in ("success", "skipped") for name, _ in STEPS)


def run_range(
    settings: Settings,
    first: date,
    last: date,
    *,
    force: bool = False,
    on_step: Callable[[str], None] | None = None,
    on_date: Callable[[date, str], None] | None = None,
) -> list[RunResult]:
    """Backfill: run each date in order, skipping completed dates unless `force`.

    Because completed dates are skipped, rerunning an interrupted backfill continues
    where it stopped. The first failing date stops the range (its error is raised).
    """
    require_store(settings.db_path)
    results = []
    day = first
    while day <= last:
        if not force and completed(settings, day):
            if on_date:
                on_date(day, "already done")
        else:
            if on_date:
                on_date(day, "running")
            results.append(run_daily(settings, day, on_step))
        day += timedelta(days=1)
    return results


def _write_report(ctx: RunContext) -> None:
    """The HTML report of the run; a failure to write it is a note, not a failed run."""
    from offerrank.report import write_report

    try:
        path = write_report(ctx.settings, ctx.run_date)
        ctx.notes.append(f"report: {path}")
    except (OfferrankError, OSError) as exc:
        ctx.notes.append(f"warning: report not written ({exc})")
