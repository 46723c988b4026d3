"""Readers of the store during a run: a long read transaction does not make the run
fail and keeps its snapshot; readers polling never see half of a date's recommendations."""

from __future__ import annotations

import ast
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from offerrank.config import Settings
from offerrank.pipeline.daily import run_daily
from reliability_ledger import Ledger

NEXT_DAY = date(2026, 2, 18)  # after the session's two-day run

LONG_READER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN")
count = lambda: con.execute("SELECT count(*) FROM recommendations").fetchone()[0]
print(count(), flush=True)          # the snapshot starts here, before the run
sys.stdin.readline()                # the run happens meanwhile
print(count(), flush=True)          # still the same snapshot
con.execute("COMMIT")
print(count(), flush=True)          # a new read: the run's rows
"""

POLLER = """
import os, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
seen = set()
while not os.path.exists(sys.argv[2]):
    seen.update(con.execute(
        "SELECT run_date, count(*) FROM recommendations GROUP BY run_date").fetchall())
    seen.add(("polls", 0))
print(repr(sorted(seen)), flush=True)
"""


@pytest.fixture
def after_two_runs(two_day_run, tmp_path: Path) -> Settings:
    """A copy of the store (and models) of the session's two successful runs."""
    reference, _, _ = two_day_run
    db = tmp_path / "metro.db"
    shutil.copy(reference.db_path, db)
    shutil.copytree(reference.artifacts_dir, tmp_path / "models")
    con = sqlite3.connect(db)
    con.execute(
        "UPDATE model_registry SET artifact_path = replace(artifact_path, ?, ?)",
        (str(reference.artifacts_dir), str(tmp_path / "models")),
    )
    con.commit()
    con.close()
    return reference.model_copy(
        update={
            "db_path": db,
            "artifacts_dir": tmp_path / "models",
            "reports_dir": tmp_path / "reports",
        }
    )


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT run_date, count(*) FROM recommendations GROUP BY run_date"))


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_long_read_transaction_neither_fails_the_run_nor_sees_it(
    after_two_runs: Settings, reliability: Ledger
) -> None:
    db = after_two_runs.db_path
    before = sum(counts(db).values())
    reader = spawn(LONG_READER, str(db))
    assert reader.stdout is not None and reader.stdin is not None
    assert int(reader.stdout.readline()) == before
    result = run_daily(after_two_runs, NEXT_DAY)  # while the read transaction is open
    assert result.ok
    written = counts(db)[NEXT_DAY.isoformat()]
    assert written == result.metrics["recommendations_written"] > 0
    out, _ = reader.communicate("go\n", timeout=60)
    during, after = map(int, out.split())
    assert during == before  # its snapshot never moved
    assert after == before + written  # a new read sees the run's rows
    reliability.fault("long read transaction open during a run")


@pytest.mark.parametrize("day", [NEXT_DAY, date(2026, 2, 17)], ids=["new date", "rerun"])
def test_polling_readers_see_all_or_nothing_of_a_date(
    after_two_runs: Settings, day: date, tmp_path: Path, reliability: Ledger
) -> None:
    db, stop = after_two_runs.db_path, tmp_path / "stop"
    old = counts(db).get(day.isoformat(), 0)
    poller = spawn(POLLER, str(db), str(stop))
    result = run_daily(after_two_runs, day)
    stop.touch()
    out, _ = poller.communicate(timeout=60)
    assert result.ok
    new = result.metrics["recommendations_written"]
    seen = {d: set() for d in ("polls", day.isoformat())}
    for d, n in ast.literal_eval(out):  # (run_date, count) pairs
        seen.setdefault(d, set()).add(n)
    assert seen["polls"] == {0}, "the poller never ran"
    assert seen[day.isoformat()] <= {old, new}  # a date missing from a poll counts as 0
    reliability.fault(f"readers polling during a run ({'rerun' if old else 'new date'})")
