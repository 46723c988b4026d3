"""The daily run for date D: recorded steps, each idempotent and atomic for D.

The flow, in plain code (`_steps`): plan and load -> train -> candidates -> rank ->
explain, drift, evaluate. Each step is a function of typed inputs (`pipeline.steps`)
returning what the next ones need; `StepLog` records it in `pipeline_runs`, and the
step's outputs and metrics are one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import TypeVar

from offerrank.config import Settings
from offerrank.engines.registry import open_engine
from offerrank.errors import OfferrankError
from offerrank.pipeline.context import Run
from offerrank.pipeline.lock import run_lock
from offerrank.pipeline.precheck import check_contract
from offerrank.pipeline.runs import Done, StepLog, StepOutcome, mark_stale_running
from offerrank.pipeline.steps.candidates import candidates
from offerrank.pipeline.steps.drift import drift
from offerrank.pipeline.steps.evaluate import evaluate
from offerrank.pipeline.steps.explain import explain
from offerrank.pipeline.steps.load import load, plan_run
from offerrank.pipeline.steps.rank import rank
from offerrank.pipeline.steps.train import train
from offerrank.store.db import connect, require_store, transaction
from offerrank.store.read import runs
from offerrank.store.results import outputs
from offerrank.store.results.migrations import migrate

# The recorded steps of a run, in order: the run log's one declaration.
STEPS: tuple[str, ...] = runs.RUN_STEPS

T = TypeVar("T")


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
    engine = open_engine(settings)
    run = Run(settings=settings, run_date=run_date, store=store, engine=engine)
    try:
        migrate(store)
        mark_stale_running(store)
        log = StepLog(store, run_date)
        check_contract(run, log)  # before any step: no step runs on bad data
        with transaction(store):
            outputs.write_run_config(store, run.day, log.run_id, settings.as_json())
        _steps(run, log, on_step)
        _drop_stale_metrics(run, log.run_id)
        _write_report(run)
        return RunResult(run_date, log.run_id, log.outcomes, run.metrics, run.notes)
    finally:
        engine.close()
        store.close()


def _steps(run: Run, log: StepLog, on_step: Callable[[str], None] | None) -> None:
    """The flow of one run: each step's output is the next steps' input."""

    def step(name: str, fn: Callable[[], Done[T]]) -> T:
        if on_step:
            on_step(name)
        return log.run(
            name, fn, on_success=partial(_finish_step, run, name), on_failure=run.discard_metrics
        )

    loaded = step("load", lambda: load(run, plan_run(run)))
    trained = step("train", lambda: train(run, loaded.plan))
    retrieval = step("candidates", lambda: candidates(run, trained))
    ranked = step("rank", lambda: rank(run, loaded, trained, retrieval))
    step("explain", lambda: explain(run, trained, ranked.samples))
    step("drift", lambda: drift(run, loaded.plan, trained, ranked.samples))
    step("evaluate", lambda: evaluate(run, trained, ranked))


def _finish_step(run: Run, name: str, con: sqlite3.Connection, seconds: float) -> None:
    """Inside the step's closing transaction: its duration and its remaining metrics."""
    run.put_metrics({f"duration_{name}_s": seconds})
    run.flush_metrics(con)


def _drop_stale_metrics(run: Run, run_id: str) -> None:
    """A rerun replaces the date's metrics and notes: drop the metrics this run did not
    produce, and keep its notes (warnings first) for `status` and the report."""
    with transaction(run.store):
        outputs.keep_only_metrics(run.store, run.day, list(run.metrics))
        outputs.replace_run_notes(run.store, run.day, run_id, run.notes)


def completed(settings: Settings, run_date: date) -> bool:
    """Whether the latest run of `run_date` finished every step (success or skipped)."""
    con = connect(settings.db_path)
    try:
        migrate(con)
        return runs.date_completed(con, run_date.isoformat())
    finally:
        con.close()


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


def _write_report(run: Run) -> None:
    """The HTML report of the run; a failure to write it is a note, not a failed run."""
    from offerrank.report import write_report

    try:
        path = write_report(run.settings, run.run_date)
        run.notes.append(f"report: {path}")
    except (OfferrankError, OSError) as exc:
        run.notes.append(f"warning: report not written ({exc})")
