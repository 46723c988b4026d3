"""A step that fails leaves every table as it was before that step; a rerun completes
and gives the outputs of a run that never failed."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from offerrank.pipeline.context import Run
from offerrank.pipeline.daily import STEPS, run_daily
from reliability_ledger import LEDGER, rows_differing, store_rows

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


@pytest.mark.parametrize("step", STEPS)
def test_failure_at_the_end_of_each_step_changes_nothing(
    step: str, settings, two_day_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    before: dict[str, dict[str, str]] = {}
    current: list[str] = []

    def on_step(name: str) -> None:
        current[:] = [name]
        if name == step:
            before["tables"] = snapshot(settings.db_path)
            before["rows"] = store_rows(settings.db_path)  # type: ignore[assignment]

    original = Run.flush_metrics

    def failing_flush(self: Run, con: sqlite3.Connection) -> None:
        original(self, con)  # the writes happen, then the crash, before COMMIT
        if current == [step]:
            raise Injected(f"fault injected in {step}")

    monkeypatch.setattr(Run, "flush_metrics", failing_flush)
    with pytest.raises(Injected):
        run_daily(settings, DAY, on_step=on_step)
    LEDGER.rows_lost(rows_differing(before["rows"], store_rows(settings.db_path)))  # type: ignore[arg-type]
    assert snapshot(settings.db_path) == before["tables"]
    with sqlite3.connect(settings.db_path) as con:
        status = con.execute(
            "SELECT status FROM pipeline_runs WHERE step = ? ORDER BY rowid DESC LIMIT 1", (step,)
        ).fetchone()[0]
    assert status in ("failed", "running")  # "running" is recognised as interrupted later

    monkeypatch.setattr(Run, "flush_metrics", original)
    assert run_daily(settings, DAY).ok
    reference, _, _ = two_day_run
    assert outputs(settings.db_path) == outputs(reference.db_path)
    LEDGER.fault(f"exception at the end of step {step}")


SLOW_SWAP = """
import os, time
from contextlib import contextmanager
from pathlib import Path
from offerrank.pipeline import context

_outputs = context.Run.outputs


@contextmanager
def _paused_outputs(self):
    with _outputs(self) as con:
        yield con
        if "recommendations_written" in self.pending:  # the rank step's swap
            Path(os.environ["OFFERRANK_TEST_MARKER"]).write_text("in the swap")
            time.sleep(60)  # written, not committed: the test kills us here


context.Run.outputs = _paused_outputs
"""


def test_kill_9_in_the_middle_of_a_swap_loses_nothing(settings, two_day_run, tmp_path) -> None:
    """A real process killed inside the rank step's transaction: nothing of it is kept,
    its row is recognised as interrupted, and a rerun gives the uninterrupted outputs."""
    import os
    import signal
    import subprocess
    import sys
    import time

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_SWAP)
    marker = tmp_path / "marker"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]),
        "OFFERRANK_TEST_MARKER": str(marker),
        "OFFERRANK_DB": str(settings.db_path),
    }
    config = tmp_path / "offerrank.toml"
    config.write_text(
        f'artifacts_dir = "{settings.models_dir}"\nreports_dir = "{tmp_path / "reports"}"\n'
        "bootstrap_samples = 20\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "offerrank", "--config", str(config), "--quiet", "run",
         "--date", DAY.isoformat()],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the run never reached the rank swap"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(settings.db_path) as con:
        kept = con.execute(
            "SELECT COUNT(*) FROM recommendations WHERE run_date = ?", (DAY.isoformat(),)
        ).fetchone()[0]
        status = con.execute(
            "SELECT status FROM pipeline_runs WHERE step = 'rank' ORDER BY rowid DESC LIMIT 1"
        ).fetchone()[0]
    assert kept == 0 and status == "running"
    assert run_daily(settings, DAY).ok
    with sqlite3.connect(settings.db_path) as con:
        statuses = [s for (s,) in con.execute(
            "SELECT status FROM pipeline_runs WHERE step = 'rank' ORDER BY rowid"
        )]  # fmt: skip
    assert statuses == ["interrupted", "success"]
    reference, _, _ = two_day_run
    assert outputs(settings.db_path) == outputs(reference.db_path)
    LEDGER.fault("kill -9 inside the rank step's swap")
