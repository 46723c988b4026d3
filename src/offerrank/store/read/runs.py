"""The run log (`pipeline_runs`): one row per step per run.

`RUN_STEPS` is the one declaration of a daily run's steps, in order: the pipeline runs
them, and the HTTP API and a backfill's "already done" read the log by them (`status`
shows whatever steps a run logged). A run is *complete* when every step of its latest
attempt succeeded or was skipped.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from offerrank.store.db import table_exists

RUN_STEPS: tuple[str, ...] = ("load", "train", "candidates", "rank", "explain", "drift", "evaluate")
# Steps renamed since older stores were written: a log row under the former name counts.
FORMER_NAMES: dict[str, str] = {"load": "features"}
DONE = ("success", "skipped")
PROBLEMS = ("failed", "interrupted", "running")


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (a `running` row of a dead one is stale)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def step_statuses(con: sqlite3.Connection, run_id: str) -> dict[str, str]:
    """Each step of a run with its status (the last row of a step wins)."""
    rows = con.execute("SELECT step, status FROM pipeline_runs WHERE run_id = ?", (run_id,))
    return dict(rows.fetchall())


def is_complete(statuses: dict[str, str]) -> bool:
    """Every step of `RUN_STEPS` succeeded or was skipped (under its former name too)."""
    return all(
        statuses.get(name) in DONE or statuses.get(FORMER_NAMES.get(name, name)) in DONE
        for name in RUN_STEPS
    )


def overall_status(statuses: list[str]) -> str:
    """A run's status from its steps': its first problem by `PROBLEMS`' order, else
    success."""
    return next((p for p in PROBLEMS if p in statuses), "success")


def date_completed(con: sqlite3.Connection, day: str) -> bool:
    """Whether the latest run of `day` finished every step."""
    newest = newest_run(con, day)
    return newest is not None and is_complete(step_statuses(con, newest[0]))


def latest_complete_run(con: sqlite3.Connection, day: str | None = None) -> tuple[str, str] | None:
    """(run_date, run_id) of the newest complete run (of `day` only, when given). A run
    stops at its first failed step, so its last step done means every step was."""
    where, params = ("AND run_date = ?", (day,)) if day is not None else ("", ())
    marks = ", ".join("?" * len(DONE))
    row = con.execute(
        f"SELECT run_date, run_id FROM pipeline_runs WHERE step = ? AND status IN ({marks})"
        f" {where} ORDER BY rowid DESC LIMIT 1",
        (RUN_STEPS[-1], *DONE, *params),
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def recommendations_run_id(con: sqlite3.Connection, day: str) -> str | None:
    """The run that wrote `day`'s recommendations: its newest run whose rank step
    succeeded (the steps after rank may have failed since)."""
    row = con.execute(
        "SELECT run_id FROM pipeline_runs WHERE run_date = ? AND step = 'rank'"
        " AND status = 'success' ORDER BY rowid DESC LIMIT 1",
        (day,),
    ).fetchone()
    return None if row is None else str(row[0])


def running_rows(con: sqlite3.Connection) -> list[tuple[int, int | None]]:
    """(rowid, pid) of the rows still marked `running`."""
    return [
        (int(r), p)
        for r, p in con.execute("SELECT rowid, pid FROM pipeline_runs WHERE status = 'running'")
    ]


def newest_run(con: sqlite3.Connection, day: str | None = None) -> tuple[str, str] | None:
    """(run_id, run_date) of the newest run (of `day` only, when given)."""
    where, params = ("WHERE run_date = ?", (day,)) if day is not None else ("", ())
    row = con.execute(
        f"SELECT run_id, run_date FROM pipeline_runs {where} ORDER BY rowid DESC LIMIT 1", params
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def steps_of(con: sqlite3.Connection, day: str, run_id: str) -> list[tuple[Any, ...]]:
    """(step, status, duration_s, started_at, finished_at, detail) of a run, in order."""
    return con.execute(
        "SELECT step, status, duration_s, started_at, finished_at, detail FROM pipeline_runs"
        " WHERE run_date = ? AND run_id = ? ORDER BY rowid",
        (day, run_id),
    ).fetchall()


def newest_rows(con: sqlite3.Connection, limit: int) -> list[tuple[Any, ...]]:
    """(run_id, run_date, status, pid) of the newest `limit` rows of the log, newest first."""
    return con.execute(
        "SELECT run_id, run_date, status, pid FROM pipeline_runs ORDER BY rowid DESC LIMIT ?",
        (limit,),
    ).fetchall()


def recent_runs(
    con: sqlite3.Connection, last: int, day: str | None = None
) -> list[tuple[str, str, str | None]]:
    """(run_id, run_date, first started_at) of the `last` newest runs (of `day` only, when
    given), newest first."""
    where, params = ("WHERE run_date = ?", [day]) if day else ("", [])
    rows = con.execute(
        f"SELECT run_id, run_date, MIN(started_at), MAX(rowid) AS last_row"
        f" FROM pipeline_runs {where} GROUP BY run_id ORDER BY last_row DESC LIMIT ?",
        (*params, last),
    ).fetchall()
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]


def steps_of_runs(con: sqlite3.Connection, run_ids: list[str]) -> list[tuple[Any, ...]]:
    """(run_id, step, status, started_at, finished_at, duration_s, detail) of the runs, in
    the order they were logged."""
    marks = ", ".join("?" * len(run_ids))
    return con.execute(
        "SELECT run_id, step, status, started_at, finished_at, duration_s, detail"
        f" FROM pipeline_runs WHERE run_id IN ({marks}) ORDER BY rowid",
        run_ids,
    ).fetchall()


def latest_run_of_each_date(con: sqlite3.Connection) -> dict[str, str]:
    """Each run date's newest run id (whose metrics are the date's)."""
    return dict(
        con.execute(
            "SELECT run_date, run_id FROM pipeline_runs WHERE rowid IN"
            " (SELECT MAX(rowid) FROM pipeline_runs GROUP BY run_date)"
        ).fetchall()
    )


def notes_of(con: sqlite3.Connection, run_ids: list[str]) -> list[tuple[str, str, str]]:
    """(run_id, level, note) of the notes the runs recorded, in order."""
    if not run_ids or not table_exists(con, "run_notes"):
        return []
    return con.execute(
        f"SELECT run_id, level, note FROM run_notes WHERE run_id IN"
        f" ({', '.join('?' * len(run_ids))}) ORDER BY rowid",
        run_ids,
    ).fetchall()
