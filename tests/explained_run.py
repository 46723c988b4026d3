"""Helpers for tests that read the session's two-day run (explanations, curves, report).

The run itself is the session fixture `two_day_run` (conftest.py); a test that writes
works on a copy.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from offerrank.config import Settings

DAYS = (date(2026, 2, 16), date(2026, 2, 17))


def copy_world(source: Path, dest: Path) -> Settings:
    """A writable copy of the explained world; model paths in the registry stay valid."""
    # The backup API copies what is still in the WAL too; a file copy would not.
    with sqlite3.connect(source / "metro.db") as src, sqlite3.connect(dest / "metro.db") as dst:
        src.backup(dst)
    return Settings(
        db_path=dest / "metro.db",
        artifacts_dir=source / "models",
        bootstrap_samples=20,
        reports_dir=dest / "reports",
    )
