"""The store's read API on a hand-written run log: what a complete run is, a date's latest
run, the run that wrote a date's lists, stale `running` rows."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from offerrank.pipeline.daily import STEPS
from offerrank.store.read import runs
from offerrank.store.results import outputs
from offerrank.store.results.migrations import migrate


@pytest.fixture
def con(tmp_path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(tmp_path / "store.db")
    migrate(con)
    return con


def _run(
    con: sqlite3.Connection, run_id: str, day: str, statuses: dict[str, str], pid: int = 1
) -> None:
    for step, status in statuses.items():
        rowid = outputs.start_step(con, run_id, day, step, "t", pid)
        if status != "running":
            outputs.finish_step(con, rowid, status, "t", 0.5, "")


def _all(status: str = "success") -> dict[str, str]:
    return {step: status for step in runs.RUN_STEPS}


def test_the_pipeline_runs_the_declared_steps() -> None:
    assert STEPS == runs.RUN_STEPS


def test_a_complete_run_is_every_step_done_under_any_of_its_names(
    con: sqlite3.Connection,
) -> None:
    _run(con, "a", "2026-02-16", {**_all(), "train": "skipped"})
    _run(con, "b", "2026-02-17", {"load": "success", "train": "failed"})
    legacy = {("features" if s == "load" else s): "success" for s in runs.RUN_STEPS}
    _run(con, "c", "2026-02-18", legacy)
    assert runs.date_completed(con, "2026-02-16")
    assert not runs.date_completed(con, "2026-02-17")
    assert runs.date_completed(con, "2026-02-18")  # an older store's step name
    assert not runs.date_completed(con, "2026-02-19")  # never run
    # the newest complete run, over all dates and of one date
    assert runs.latest_complete_run(con) == ("2026-02-18", "c")
    assert runs.latest_complete_run(con, "2026-02-16") == ("2026-02-16", "a")
    assert runs.latest_complete_run(con, "2026-02-17") is None


def test_a_failed_rerun_makes_the_date_incomplete_but_keeps_its_complete_run(
    con: sqlite3.Connection,
) -> None:
    _run(con, "a", "2026-02-16", _all())
    _run(con, "b", "2026-02-16", {"load": "success", "train": "success", "candidates": "failed"})
    assert runs.newest_run(con, "2026-02-16") == ("b", "2026-02-16")
    assert not runs.date_completed(con, "2026-02-16")
    assert runs.latest_complete_run(con) == ("2026-02-16", "a")  # what the API serves
    assert runs.newest_run(con) == ("b", "2026-02-16")


def test_the_lists_of_a_date_are_the_newest_run_whose_rank_step_succeeded(
    con: sqlite3.Connection,
) -> None:
    _run(con, "a", "2026-02-16", _all())
    _run(con, "b", "2026-02-16", {**_all(), "drift": "failed"})
    _run(con, "c", "2026-02-16", {"load": "success", "rank": "failed"})
    assert runs.recommendations_run_id(con, "2026-02-16") == "b"
    assert runs.recommendations_run_id(con, "2026-02-17") is None


def test_running_rows_and_live_processes(con: sqlite3.Connection) -> None:
    _run(con, "a", "2026-02-16", {"load": "success", "train": "running"}, pid=os.getpid())
    rows = runs.running_rows(con)
    assert len(rows) == 1 and rows[0][1] == os.getpid()
    assert runs.process_alive(os.getpid())
    assert not runs.process_alive(2**22 + 12345)  # above the kernel's pid range
    assert [r[2] for r in runs.newest_rows(con, 10)] == ["running", "success"]


def test_the_reads_of_status(con: sqlite3.Connection) -> None:
    """Newest runs first (of one date when asked), each date's newest run, a run's notes."""
    _run(con, "a", "2026-02-16", _all())
    _run(con, "b", "2026-02-17", {"load": "failed"})
    _run(con, "c", "2026-02-16", {"load": "success"})
    outputs.replace_run_notes(con, "2026-02-17", "b", ["warning: thin labels", "a note"])
    assert [r[:2] for r in runs.recent_runs(con, 5)] == [
        ("c", "2026-02-16"), ("b", "2026-02-17"), ("a", "2026-02-16")
    ]  # fmt: skip
    assert [r[0] for r in runs.recent_runs(con, 5, "2026-02-16")] == ["c", "a"]
    assert [r[0] for r in runs.recent_runs(con, 1)] == ["c"]
    assert runs.latest_run_of_each_date(con) == {"2026-02-16": "c", "2026-02-17": "b"}
    assert [s[1] for s in runs.steps_of_runs(con, ["b", "c"])] == ["load", "load"]
    notes = runs.notes_of(con, ["b"])
    assert [n[0] for n in notes] == ["b", "b"] and notes[0][1] == "warning"
    assert runs.notes_of(con, []) == []


def test_what_was_trained_since_a_model_took_over(con: sqlite3.Connection) -> None:
    from offerrank.store.read import models

    def register(version: str, columns: list[str]) -> None:
        con.execute(
            "INSERT INTO model_registry (model_version, model_type, trained_for, artifact_path,"
            " sha256, is_active, created_at, sidecar_json)"
            " VALUES (?, 'lr', '2026-02-16', 'x', 'x', 0, 't', ?)",
            (version, json.dumps({"feature_columns": columns})),
        )

    def event(version: str, kind: str) -> None:
        outputs.record_model_event(
            con, outputs.ModelEvent(at="t", model_version=version, event=kind)
        )

    register("old", ["a"])
    register("new", ["a", "b"])
    # a store whose active model has no event: every training counts
    event("new", "trained")
    assert models.since_taking_over(con, "old") == (None, [{"feature_columns": ["a", "b"]}])
    event("old", "promoted")
    assert models.since_taking_over(con, "old") == ("promoted", [])
    event("new", "trained")
    event("new", "refused")
    assert models.since_taking_over(con, "old")[1] == [{"feature_columns": ["a", "b"]}]
    event("old", "activated")
    assert models.since_taking_over(con, "old") == ("activated", [])
