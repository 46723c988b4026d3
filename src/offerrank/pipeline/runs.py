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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from offerrank.store.db import transaction


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(sep=" ", timespec="seconds")


class StepSkipped(Exception):
    """Raised inside a step to record it as `skipped` with a reason; not an error."""


@dataclass
class StepOutcome:
    step: str
    status: str
    duration_s: float
    detail: str


@dataclass
class StepLog:
    """One run's steps; `step()` wraps each in a pipeline_runs row."""

    con: sqlite3.Connection
    run_date: date
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    outcomes: list[StepOutcome] = field(default_factory=list)

    @contextmanager
    def step(
        self,
        name: str,
        on_success: Callable[[sqlite3.Connection, float], None] | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> Iterator[dict[str, str]]:
        """Run a step; the yielded dict's 'detail' becomes the row's detail on success.

        `on_success(con, seconds)` writes inside the transaction that marks the step
        success or skipped (its staged metrics); `on_failure()` drops what was staged.
        """
        started = now_iso()
        with transaction(self.con):
            cur = self.con.execute(
                "INSERT INTO pipeline_runs (run_id, run_date, step, status, started_at, pid)"
                " VALUES (?, ?, ?, 'running', ?, ?)",
                (self.run_id, self.run_date.isoformat(), name, started, os.getpid()),
            )
        rowid = cur.lastrowid
        t0 = time.perf_counter()
        info: dict[str, str] = {"detail": ""}
        status, detail = "success", ""
        try:
            yield info
            detail = info["detail"]
        except StepSkipped as exc:
            status, detail = "skipped", str(exc)
        except BaseException as exc:
            self._fail(rowid, name, exc, time.perf_counter() - t0, on_failure)
            raise
        try:
            self._finish(rowid, name, status, time.perf_counter() - t0, detail, on_success)
        except Exception as exc:  # the closing write failed (a full disk): the step failed
            self._fail(rowid, name, exc, time.perf_counter() - t0, on_failure)
            raise

    def _fail(
        self,
        rowid: int | None,
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
        rowid: int | None,
        name: str,
        status: str,
        dur: float,
        detail: str,
        also: Callable[[sqlite3.Connection, float], None] | None = None,
    ) -> None:
        with transaction(self.con):
            if also:
                also(self.con, dur)
            self.con.execute(
                "UPDATE pipeline_runs SET status = ?, finished_at = ?, duration_s = ?, detail = ?"
                " WHERE rowid = ?",
                (status, now_iso(), round(dur, 4), detail[:2000], rowid),
            )
        self.outcomes.append(StepOutcome(name, status, dur, detail))


def mark_stale_running(con: sqlite3.Connection) -> int:
    """Rows left `running` by a process that no longer exists become `interrupted`."""
    rows = con.execute("SELECT rowid, pid FROM pipeline_runs WHERE status = 'running'").fetchall()
    stale = [rowid for rowid, pid in rows if pid is None or not _alive(int(pid))]
    if stale:
        with transaction(con):
            con.executemany(
                "UPDATE pipeline_runs SET status = 'interrupted', finished_at = ?,"
                " detail = 'process ended before the step finished' WHERE rowid = ?",
                [(now_iso(), r) for r in stale],
            )
    return len(stale)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
