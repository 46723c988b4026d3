"""Backfills resume, runs exclude each other, and a dead run's row is recognised."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from offerrank.pipeline.daily import completed, run_daily, run_range
from offerrank.pipeline.lock import StoreBusy, run_lock
from offerrank.pipeline.runs import mark_stale_running
from offerrank.store.db import connect
from offerrank.store.results.migrations import migrate
from reliability_ledger import LEDGER


def count_runs(db) -> int:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT COUNT(DISTINCT run_id) FROM pipeline_runs").fetchone()[0]


def test_backfill_skips_completed_dates_unless_forced(settings) -> None:
    seen: list[tuple[date, str]] = []
    first = run_range(
        settings,
        date(2026, 2, 16),
        date(2026, 2, 17),
        on_date=lambda d, what: seen.append((d, what)),
    )
    assert [r.ok for r in first] == [True, True]
    assert completed(settings, date(2026, 2, 17))
    again = run_range(
        settings,
        date(2026, 2, 16),
        date(2026, 2, 17),
        on_date=lambda d, what: seen.append((d, what)),
    )
    assert again == [] and count_runs(settings.db_path) == 2
    assert seen[-2:] == [(date(2026, 2, 16), "already done"), (date(2026, 2, 17), "already done")]
    forced = run_range(settings, date(2026, 2, 17), date(2026, 2, 17), force=True)
    assert len(forced) == 1 and count_runs(settings.db_path) == 3


def test_a_second_run_refuses_while_the_store_is_busy(settings) -> None:
    with run_lock(settings.db_path, 0), pytest.raises(StoreBusy, match="another run"):
        run_daily(settings, date(2026, 2, 16))
    LEDGER.fault("a second run while the store is busy")


def test_a_running_row_of_a_dead_process_becomes_interrupted(world_db) -> None:
    con = connect(world_db)
    migrate(con)
    con.execute(
        "INSERT INTO pipeline_runs (run_id, run_date, step, status, pid)"
        " VALUES ('x', '2026-02-16', 'rank', 'running', 999999999)"
    )
    assert mark_stale_running(con) == 1
    status, detail = con.execute("SELECT status, detail FROM pipeline_runs").fetchone()
    assert status == "interrupted" and "ended" in detail
    LEDGER.fault("a running row left by a dead process")
