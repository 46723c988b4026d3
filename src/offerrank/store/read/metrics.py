"""`run_metrics`: one row per (run_date, metric)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence


def latest_before(con: sqlite3.Connection, metric: str, day: str) -> tuple[str, float] | None:
    """(run_date, value) of `metric` on the newest date before `day` that recorded it."""
    row = con.execute(
        "SELECT run_date, value FROM run_metrics WHERE metric = ? AND run_date < ?"
        " ORDER BY run_date DESC LIMIT 1",
        (metric, day),
    ).fetchone()
    return None if row is None else (str(row[0]), row[1])


def value_of(con: sqlite3.Connection, day: str, metric: str) -> float | None:
    """`metric` of date `day`; None when it was not recorded (or recorded empty)."""
    row = con.execute(
        "SELECT value FROM run_metrics WHERE run_date = ? AND metric = ?", (day, metric)
    ).fetchone()
    return None if row is None else row[0]


def figures_of(
    con: sqlite3.Connection, days: Sequence[str], metrics: Sequence[str]
) -> dict[str, dict[str, float]]:
    """The `metrics` of each date of `days` that recorded them."""
    if not days or not metrics:
        return {}
    rows = con.execute(
        f"SELECT run_date, metric, value FROM run_metrics WHERE run_date IN"
        f" ({', '.join('?' * len(days))}) AND metric IN ({', '.join('?' * len(metrics))})",
        (*days, *metrics),
    ).fetchall()
    out: dict[str, dict[str, float]] = {}
    for day, metric, value in rows:
        out.setdefault(day, {})[metric] = value
    return out


def values_of(con: sqlite3.Connection, day: str, metrics: Sequence[str]) -> dict[str, float]:
    """The `metrics` date `day` recorded, by name."""
    return figures_of(con, [day], metrics).get(day, {})
