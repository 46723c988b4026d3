"""A daily run of the tiny world with its explanations and stored curves.

Shared by test_explain.py and test_report.py: the two-day run is built once per test
session (memoised here) and copied by each test that writes.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from offerrank.config import Settings
from offerrank.pipeline import daily

DAYS = (date(2026, 2, 16), date(2026, 2, 17))
_CACHE: dict[str, Path] = {}


def run_with_explain(settings: Settings, day: date) -> daily.RunResult:
    """A daily run (its steps include explain, and evaluate stores the curves)."""
    return daily.run_daily(settings, day)


def explained_world(tiny_world: Path, folder: Path) -> Path:
    """The folder of a store with both days run (explain and curves included), once."""
    if "folder" not in _CACHE:
        db = folder / "metro.db"
        shutil.copy(tiny_world, db)
        s = Settings(
            db_path=db,
            artifacts_dir=folder / "models",
            bootstrap_samples=20,
            reports_dir=folder / "reports",
        )
        for day in DAYS:
            result = run_with_explain(s, day)
            assert result.ok, result.steps
        _CACHE["folder"] = folder
    return _CACHE["folder"]


def copy_world(source: Path, dest: Path) -> Settings:
    """A writable copy of the explained world; model paths in the registry stay valid."""
    shutil.copy(source / "metro.db", dest / "metro.db")
    return Settings(
        db_path=dest / "metro.db",
        artifacts_dir=source / "models",
        bootstrap_samples=20,
        reports_dir=dest / "reports",
    )
