"""How far each input table has been checked against the contract: one rowid per table.

A daily run must not read 15M order lines to re-check rows it checked yesterday, and
must not trust a row nobody checked. `contract_watermarks` holds, per input table, the
highest rowid whose rows (and every row below it) passed the contract check. Triggers
keep that honest whatever writes to the store (the sqlite3 shell included):

- AFTER UPDATE and AFTER DELETE reset the table's watermark to 0, so the next check
  reads the whole table (and re-checks the references into it);
- AFTER INSERT of a row at or below the watermark (an explicit low key) lowers the
  watermark below that row;
- a table whose triggers are missing (dropped, or the table recreated) is reset too.

Each of these also bumps the table's `generation`, and `store_identity` names the store
file: together they tell the history cache (`store.history_cache`) whether its copy of
the checked rows still matches the store.

All functions here expect the caller's write transaction.
"""

from __future__ import annotations

import sqlite3

from offerrank.store.contract import INPUT_TABLES

TABLE = "contract_watermarks"
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    table_name TEXT PRIMARY KEY, checked_rowid INTEGER NOT NULL DEFAULT 0,
    checked_at TEXT, generation INTEGER NOT NULL DEFAULT 0)"""
IDENTITY = "store_identity"
IDENTITY_DDL = (
    f"CREATE TABLE IF NOT EXISTS {IDENTITY} (store_id TEXT NOT NULL)",
    f"INSERT INTO {IDENTITY} SELECT lower(hex(randomblob(16)))"
    f" WHERE NOT EXISTS (SELECT 1 FROM {IDENTITY})",
)
_EVENTS = ("insert", "update", "delete")


def trigger_name(table: str, event: str) -> str:
    return f"{TABLE}_{table}_{event}"


def trigger_sql(table: str) -> list[str]:
    """The three triggers that move `table`'s watermark back when old rows change."""
    mark = f"(SELECT checked_rowid FROM {TABLE} WHERE table_name = '{table}')"
    reset = (
        f"UPDATE {TABLE} SET checked_rowid = 0, generation = generation + 1"
        f" WHERE table_name = '{table}'"
    )
    lower = (
        f"UPDATE {TABLE} SET checked_rowid = NEW.rowid - 1, generation = generation + 1"
        f" WHERE table_name = '{table}' AND checked_rowid >= NEW.rowid"
    )
    return [
        f"CREATE TRIGGER IF NOT EXISTS {trigger_name(table, 'insert')} AFTER INSERT ON {table}"
        f" WHEN NEW.rowid <= {mark} BEGIN {lower}; END",
        f"CREATE TRIGGER IF NOT EXISTS {trigger_name(table, 'update')} AFTER UPDATE ON {table}"
        f" BEGIN {reset}; END",
        f"CREATE TRIGGER IF NOT EXISTS {trigger_name(table, 'delete')} AFTER DELETE ON {table}"
        f" BEGIN {reset}; END",
    ]


def drop_triggers(con: sqlite3.Connection) -> None:
    """Remove the triggers before a bulk load into empty tables (each row would run its
    insert trigger); `mark_checked` afterwards recreates them and marks every row."""
    for table in input_tables_present(con):
        for event in _EVENTS:
            con.execute(f"DROP TRIGGER IF EXISTS {trigger_name(table, event)}")


def input_tables_present(con: sqlite3.Connection) -> list[str]:
    """The contract's input tables that the store holds as tables, in dependency order."""
    present = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [t.name for t in INPUT_TABLES if t.name in present]


def ensure(con: sqlite3.Connection) -> list[str]:
    """Create the table, a row per input table and missing triggers; return tables reset.

    A table without its triggers may have been changed unobserved, so its watermark
    goes back to 0 before the triggers are (re)created.
    """
    con.execute(DDL)
    for stmt in IDENTITY_DDL:
        con.execute(stmt)
    tables = input_tables_present(con)
    con.executemany(
        f"INSERT OR IGNORE INTO {TABLE} (table_name, checked_rowid) VALUES (?, 0)",
        [(t,) for t in tables],
    )
    have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    reset = [t for t in tables if any(trigger_name(t, e) not in have for e in _EVENTS)]
    for table in reset:
        con.execute(
            f"UPDATE {TABLE} SET checked_rowid = 0, generation = generation + 1"
            " WHERE table_name = ?",
            (table,),
        )
        for stmt in trigger_sql(table):
            con.execute(stmt)
    return reset


def marks(con: sqlite3.Connection) -> dict[str, int]:
    """Each input table's watermark (0 when never checked)."""
    if not con.execute(f"SELECT 1 FROM sqlite_master WHERE name = '{TABLE}'").fetchone():
        return {}
    return dict(con.execute(f"SELECT table_name, checked_rowid FROM {TABLE}").fetchall())


def high_rowids(con: sqlite3.Connection, tables: list[str]) -> dict[str, int]:
    """The highest rowid of each table (0 when empty): one index lookup each."""
    return {t: int(con.execute(f"SELECT max(rowid) FROM {t}").fetchone()[0] or 0) for t in tables}


def advance(con: sqlite3.Connection, table: str, seen: int, high: int) -> bool:
    """Move `table`'s watermark from `seen` to `high`, unless it moved meanwhile.

    A trigger that fired while the rows were being checked has moved the watermark
    away from `seen`; the check then no longer covers the table and nothing advances.
    """
    cur = con.execute(
        f"UPDATE {TABLE} SET checked_rowid = ?, checked_at = datetime('now')"
        " WHERE table_name = ? AND checked_rowid = ?",
        (high, table, seen),
    )
    return cur.rowcount == 1


def mark_checked(con: sqlite3.Connection) -> None:
    """Record every input table as checked up to its last row.

    Only for a writer whose rows meet the contract by construction: the world generator
    (tests/test_world.py checks a generated store rule by rule). Without it the first
    run on a generated `medium` store would re-read 19M rows that nothing else wrote.
    """
    ensure(con)
    high = high_rowids(con, input_tables_present(con))
    con.executemany(
        f"UPDATE {TABLE} SET checked_rowid = ?, checked_at = datetime('now') WHERE table_name = ?",
        [(h, t) for t, h in high.items()],
    )


def before_append(con: sqlite3.Connection) -> dict[str, int]:
    """For an import: the tables checked up to their last row, with that row's rowid."""
    ensure(con)
    tables = input_tables_present(con)
    current, high = marks(con), high_rowids(con, tables)
    return {t: high[t] for t in tables if current.get(t, 0) >= high[t]}


def after_append(con: sqlite3.Connection, caught_up: dict[str, int]) -> None:
    """After an import checked and appended its rows: advance the tables that were caught
    up before it (their old rows were checked, its new rows were checked by the import)."""
    high = high_rowids(con, list(caught_up))
    con.executemany(
        f"UPDATE {TABLE} SET checked_rowid = ?, checked_at = datetime('now') WHERE table_name = ?",
        [(high[t], t) for t in caught_up],
    )
