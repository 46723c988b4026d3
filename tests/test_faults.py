"""A step that fails leaves every table as it was before that step; a rerun completes
and gives the outputs of a run that never failed."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from offerrank.pipeline.context import RunContext
from offerrank.pipeline.daily import STEPS, run_daily

DAY = date(2026, 2, 16)
VOLATILE = {"pipeline_runs"}  # the run log itself records the failure


class Injected(RuntimeError):
    pass


def snapshot(db: Path) -> dict[str, str]:
    """A digest of every table's rows (order-free), the run log excepted."""
    with sqlite3.connect(db) as con:
        names = [
            n
            for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if n not in VOLATILE
        ]
        return {
            n: hashlib.sha256(
                repr(sorted(map(repr, con.execute(f"SELECT * FROM {n}")))).encode()
            ).hexdigest()
            for n in names
        }


def outputs(db: Path) -> tuple[list, list]:
    with sqlite3.connect(db) as con:
        recs = con.execute(
            "SELECT customer_id, offer_id, rank, score, model_version FROM recommendations"
            " WHERE run_date = ? ORDER BY customer_id, rank",
            (DAY.isoformat(),),
        ).fetchall()
        mets = con.execute(
            "SELECT metric, value FROM run_metrics WHERE run_date = ?"
            " AND metric NOT LIKE 'duration_%' AND metric NOT LIKE 'fit_seconds_%'"
            " ORDER BY metric",
            (DAY.isoformat(),),
        ).fetchall()
    return recs, mets


@pytest.mark.parametrize("step", [name for name, _ in STEPS])
def test_failure_at_the_end_of_each_step_changes_nothing(
    step: str, settings, two_day_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    before: dict[str, dict[str, str]] = {}
    current: list[str] = []

    def on_step(name: str) -> None:
        current[:] = [name]
        if name == step:
            before["tables"] = snapshot(settings.db_path)

    original = RunContext.flush_metrics

    def failing_flush(self: RunContext, con: sqlite3.Connection) -> None:
        original(self, con)  # the writes happen, then the crash, before COMMIT
        if current == [step]:
            raise Injected(f"fault injected in {step}")

    monkeypatch.setattr(RunContext, "flush_metrics", failing_flush)
    with pytest.raises(Injected):
        run_daily(settings, DAY, on_step=on_step)
    assert snapshot(settings.db_path) == before["tables"]
    with sqlite3.connect(settings.db_path) as con:
        status = con.execute(
            "SELECT status FROM pipeline_runs WHERE step = ? ORDER BY rowid DESC LIMIT 1", (step,)
        ).fetchone()[0]
    assert status in ("failed", "running")  # "running" is recognised as interrupted later

    monkeypatch.setattr(RunContext, "flush_metrics", original)
    assert run_daily(settings, DAY).ok
    reference, _, _ = two_day_run
    assert outputs(settings.db_path) == outputs(reference.db_path)
