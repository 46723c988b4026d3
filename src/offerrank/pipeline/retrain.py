"""When to retrain: on the scheduled weekday, without a usable model, or after drift."""

from __future__ import annotations

import sqlite3
from datetime import date

from offerrank.config import Settings

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def last_run_drifted(con: sqlite3.Connection, run_date: date) -> str | None:
    """The date of the latest earlier run, if its dataset-level drift flag was raised."""
    row = con.execute(
        "SELECT run_date, value FROM run_metrics WHERE metric = 'dataset_drift' AND run_date < ?"
        " ORDER BY run_date DESC LIMIT 1",
        (run_date.isoformat(),),
    ).fetchone()
    return row[0] if row and row[1] == 1 else None


def retrain_reason(
    con: sqlite3.Connection, run_date: date, settings: Settings, *, have_model: bool
) -> str | None:
    """Why to retrain today, or None to keep the active model."""
    if not have_model:
        return "no usable model artifact"
    if run_date.weekday() == settings.retrain_weekday:
        return f"scheduled ({WEEKDAYS[settings.retrain_weekday]})"
    drifted_on = last_run_drifted(con, run_date)
    if drifted_on:
        return f"drift flagged on {drifted_on}"
    return None
