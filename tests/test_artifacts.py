"""A missing, truncated or tampered model artifact: the next run warns, retrains and
registers a new active model; no model is ever unpickled."""

from __future__ import annotations

import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from offerrank.config import Settings
from offerrank.pipeline.daily import run_daily
from reliability_ledger import Ledger
from test_readers import after_two_runs  # noqa: F401  (a fixture)

SRC = Path(__file__).resolve().parents[1] / "src"


def active(db: Path) -> tuple[str, str]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT model_version, artifact_path FROM model_registry WHERE is_active = 1"
        ).fetchone()


def tamper(path: Path) -> None:
    path.write_text(path.read_text().replace("1", "2", 1))


def truncate(path: Path) -> None:
    path.write_text(path.read_text()[: path.stat().st_size // 2])


def delete(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize(
    ("damage", "day", "why"),
    [
        (tamper, date(2026, 2, 18), "does not match its checksum"),
        (truncate, date(2026, 2, 18), "does not match its checksum"),
        (delete, date(2026, 2, 18), "unreadable"),
    ],
    ids=["tampered", "truncated", "deleted"],
)
def test_a_damaged_artifact_means_a_warning_and_a_new_model(
    after_two_runs: Settings,  # noqa: F811
    damage,
    day: date,
    why: str,
    reliability: Ledger,
) -> None:
    db = after_two_runs.db_path
    version, path = active(db)
    damage(Path(path))
    result = run_daily(after_two_runs, day)  # not a Monday: no retrain was due
    assert result.ok
    warning = [n for n in result.notes if n.startswith("warning:") and version in n]
    assert warning and why in warning[0] and "retraining" in warning[0]
    new_version, _ = active(db)
    assert new_version != version
    with sqlite3.connect(db) as con:
        status, detail = con.execute(
            "SELECT status, detail FROM pipeline_runs WHERE run_date = ? AND step = 'train'",
            (day.isoformat(),),
        ).fetchone()
        served = {v for (v,) in con.execute(
            "SELECT DISTINCT model_version FROM recommendations WHERE run_date = ?",
            (day.isoformat(),),
        )}  # fmt: skip
    assert status == "success" and "no usable model artifact" in detail
    assert served == {new_version}
    reliability.fault(f"model artifact {damage.__name__}")


UNPICKLING = re.compile(
    r"^\s*(import|from)\s+(pickle|cPickle|_pickle|joblib|dill|cloudpickle|shelve)\b"
    r"|pickle\.loads?\(|joblib\.load\(|allow_pickle\s*=\s*True|torch\.load\(",
    re.MULTILINE,
)


def test_no_module_can_unpickle() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if UNPICKLING.search(path.read_text())
    ]
    assert offenders == []
