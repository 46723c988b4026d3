"""Candidate recall measured per shown date, kept in the store between runs.

Each daily run reports recall over the last `eval_days` mature days; six of them were
measured by the previous run. A day's result is final once its labels are mature, so
it is stored under the fingerprint of the rules (`rules_key`) and reused while its
positive count is unchanged. An import clears the table (new rows may predate any day).
"""

from __future__ import annotations

import sqlite3
from datetime import date

from offerrank.ranking.candidates import RecallDay

TABLE = "candidate_recall_days"


def load_known(
    store: sqlite3.Connection, key: str, first: date, last: date
) -> dict[date, RecallDay]:
    """Days in [first, last] already measured under the rules `key`."""
    rows = store.execute(
        f"SELECT shown_date, positives, hits FROM {TABLE}"
        " WHERE rules_key = ? AND shown_date BETWEEN ? AND ?",
        (key, first.isoformat(), last.isoformat()),
    ).fetchall()
    return {
        date.fromisoformat(d): RecallDay(date.fromisoformat(d), int(n), int(h)) for d, n, h in rows
    }


def save_days(con: sqlite3.Connection, key: str, days: list[RecallDay]) -> None:
    """Record (or replace) each day's result; the caller owns the transaction."""
    con.executemany(
        f"INSERT OR REPLACE INTO {TABLE} (shown_date, rules_key, positives, hits)"
        " VALUES (?, ?, ?, ?)",
        [(d.shown_date.isoformat(), key, d.positives, d.hits) for d in days],
    )


def clear(con: sqlite3.Connection) -> None:
    """Forget every measured day (after an import); the caller owns the transaction."""
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (TABLE,)).fetchone():
        con.execute(f"DELETE FROM {TABLE}")
