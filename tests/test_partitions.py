"""Partitions bound memory and change nothing else: the day's lists, reasons, explanation
samples, drift and figures are exactly those of the unpartitioned run, whatever the
partition count."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from offerrank.config import Settings
from offerrank.pipeline.daily import run_daily
from offerrank.store.results.outputs import EXPLANATION_TABLES

TUESDAY = date(2026, 2, 17)
# Figures that describe how the run went, not what it produced.
HOW = ("partitions",)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_world: Path) -> tuple[Path, Path]:
    """A tiny store after the Monday run (model trained, unpartitioned) and its models."""
    root = tmp_path_factory.mktemp("partitions")
    db = root / "metro.db"
    shutil.copy(tiny_world, db)
    s = Settings(db_path=db, artifacts_dir=root / "models", bootstrap_samples=20, partitions=1)
    assert run_daily(s, date(2026, 2, 16)).ok
    return db, root / "models"


def _outputs(db: Path) -> dict[str, list[tuple]]:
    day = TUESDAY.isoformat()
    queries = {
        "recommendations": "SELECT * FROM recommendations WHERE run_date = ?",
        "feature_drift": "SELECT * FROM feature_drift WHERE run_date = ?",
        "run_curves": "SELECT * FROM run_curves WHERE run_date = ?",
        "run_metrics": "SELECT metric, value FROM run_metrics WHERE run_date = ?"
        f" AND metric NOT LIKE 'duration%' AND metric NOT IN ({', '.join('?' * len(HOW))})",
    }
    queries.update({t: f"SELECT * FROM {t} WHERE run_date = ?" for t in EXPLANATION_TABLES})
    with sqlite3.connect(db) as con:
        return {
            name: sorted(
                con.execute(sql, (day, *HOW) if name == "run_metrics" else (day,)).fetchall(),
                key=repr,
            )
            for name, sql in queries.items()
        }


def _run(trained: tuple[Path, Path], tmp_path: Path, partitions: int) -> dict[str, list[tuple]]:
    db = tmp_path / f"p{partitions}.db"
    shutil.copy(trained[0], db)
    s = Settings(db_path=db, artifacts_dir=trained[1], bootstrap_samples=20, partitions=partitions)
    result = run_daily(s, TUESDAY)
    assert result.ok and result.metrics["partitions"] == partitions
    return _outputs(db)


def test_partitioned_runs_equal_the_unpartitioned_run(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    whole = _run(trained, tmp_path, 1)
    assert len(whole["recommendations"]) > 1000 and whole["explanation_pairs"]
    assert whole["feature_drift"] and whole["run_metrics"]
    for parts in (2, 5, 16):
        split = _run(trained, tmp_path, parts)
        for table, rows in whole.items():
            assert split[table] == rows, f"{table} differs with {parts} partitions"
