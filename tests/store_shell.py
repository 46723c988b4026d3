"""Ways of touching a test store: as an operator in a SQL shell (writes and queries), and
as a run does before its first step (the incremental contract check)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from offerrank.store.check.incremental import StoreCheck, check_store
from offerrank.store.db import connect
from offerrank.store.results.migrations import migrate


def check(db: Path) -> StoreCheck:
    """What a run does first: migrate, check the new rows and advance the watermarks."""
    con = connect(db)
    try:
        migrate(con)
        return check_store(con, db)
    finally:
        con.close()


def shell(db: Path, sql: str) -> None:
    """Write as an operator would, with no offerrank code involved."""
    con = sqlite3.connect(db)
    con.executescript(sql)
    con.close()


def rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read as an operator would: one query, all its rows."""
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def one(db: Path, sql: str, params: tuple = ()) -> object:
    """The first column of a query's first row."""
    return rows(db, sql, params)[0][0]
