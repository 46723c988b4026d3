"""Recording steps in `pipeline_runs`: a `running` row first, then its outcome.

The `running` row is committed before the step starts, so an operator (or the next
run) can see a step that never finished. The outcome update is its own short
transaction, separate from the step's output swap.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Generic, TypeVar

from offerrank.store.db import transaction
from offerrank.store.read import runs as run_log
from offerrank.store.results import outputs

T = TypeVar("T")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(sep=" ", timespec="seconds")


@dataclass(frozen=True)
class Done(Generic[T]):
    """What a step hands on (`value`), its one-line summary, and whether it was skipped
    (a skipped step still hands on a value: the train step's active model, for one)."""

    value: T
    detail: str
    skipped: bool = False


@dataclass
class StepOutcome:
    step: str
    status: str
    duration_s: float
    detail: str


@dataclass
class StepLog:
    """One run's steps; `run()` wraps each in a pipeline_runs row."""

    con: sqlite3.Connection
    run_date: date
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    outcomes: list[StepOutcome] = field(default_factory=list)

    def run(
        self,
        name: str,
        step: Callable[[], Done[T]],
        on_success: Callable[[sqlite3.Connection, float], None] | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> T:
        """Run a step and record it; return what it hands on.

        `on_success(con, seconds)` writes inside the transaction that marks the step
        success or skipped (its staged metrics); `on_failure()` drops what was staged.
        A failure is recorded (`failed`, or `interrupted` for a signal) and re-raised.
        """
        started = now_iso()
        with transaction(self.con):
            rowid = outputs.start_step(
                self.con, self.run_id, self.run_date.isoformat(), name, started, os.getpid()
            )
        t0 = time.perf_counter()
        try:
            done = step()
        except BaseException as exc:
            self._fail(rowid, name, exc, time.perf_counter() - t0, on_failure)
            raise
        status = "skipped" if done.skipped else "success"
        try:
            self._finish(rowid, name, status, time.perf_counter() - t0, done.detail, on_success)
        except Exception as exc:  # the closing write failed (a full disk): the step failed
            self._fail(rowid, name, exc, time.perf_counter() - t0, on_failure)
            raise
        return done.value

    def fail(self, name: str, exc: BaseException) -> None:
        """Record a step that failed before it could start (the run's contract check)."""
        with transaction(self.con):
            rowid = outputs.start_step(
                self.con, self.run_id, self.run_date.isoformat(), name, now_iso(), os.getpid()
            )
        self._fail(rowid, name, exc, 0.0, None)

    def _fail(
        self,
        rowid: int,
        name: str,
        exc: BaseException,
        dur: float,
        on_failure: Callable[[], None] | None,
    ) -> None:
        """Record the step `failed` (`interrupted` for Ctrl-C). On a full disk the long
        detail may not fit: a short one is tried next; if even that cannot be written, the
        row stays `running` and the next run marks it `interrupted` (`mark_stale_running`)."""
        status = "failed" if isinstance(exc, Exception) else "interrupted"
        if on_failure:
            on_failure()
        for detail in (f"{type(exc).__name__}: {exc}", type(exc).__name__):
            try:
                self._finish(rowid, name, status, dur, detail)
                return
            except sqlite3.Error:
                continue

    def _finish(
        self,
        rowid: int,
        name: str,
        status: str,
        dur: float,
        detail: str,
        also: Callable[[sqlite3.Connection, float], None] | None = None,
    ) -> None:
        with transaction(self.con):
            if also:
                also(self.con, dur)
            outputs.finish_step(self.con, rowid, status, now_iso(), round(dur, 4), detail[:2000])
        self.outcomes.append(StepOutcome(name, status, dur, detail))


def mark_stale_running(con: sqlite3.Connection) -> int:
    """Rows left `running` by a process that no longer exists become `interrupted`."""
    rows = run_log.running_rows(con)
    stale = [rowid for rowid, pid in rows if pid is None or not run_log.process_alive(int(pid))]
    if stale:
        with transaction(con):
            outputs.mark_interrupted(con, stale, now_iso())
    return len(stale)
