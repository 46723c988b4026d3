"""How far each input table has been checked against the contract: one rowid per table.

A daily run must not read 15M order lines to re-check rows it checked yesterday, and
must not trust a row nobody checked. `contract_watermarks` holds, per input table, the
highest rowid whose rows (and every row below it) passed the contract check. Triggers
keep that honest whatever writes to the store (the sqlite3 shell included):

- AFTER UPDATE and AFTER DELETE reset the table's watermark to 0, so the next check
  reads the whole table (and re-checks the references into it);
- AFTER INSERT of a row at or below the watermark (an explicit low key) lowers the
  watermark below that row;
- a table whose triggers are missing or not ours (dropped, edited, the table recreated)
  is reset too.

Each of these also sets the table's `generation` to a new random number, and every
advance of a watermark (an import, a run's check, a generated world) appends a row with
a fresh random `token` to `contract_watermark_log`. Random, not counted: two copies of a
store that went their own ways (a restored backup, then a different feed) never share a
generation or a token, where counters would meet again. The history cache
(`store.history.history_cache`) relies on that: rows 1..R of a table are unchanged since
the advance to R that logged token T as long as the store still holds (table, R, T) and
the table's generation is the one seen then.

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
LOG = "contract_watermark_log"
LOG_DDL = f"""CREATE TABLE IF NOT EXISTS {LOG} (
    seq INTEGER PRIMARY KEY, table_name TEXT NOT NULL, checked_rowid INTEGER NOT NULL,
    token INTEGER NOT NULL, checked_at TEXT NOT NULL)"""
_EVENTS = ("insert", "update", "delete")
_BUMP = "random()"
_LEGACY_BUMP = "generation + 1"  # the triggers of stores made before the log existed


def trigger_name(table: str, event: str) -> str:
    return f"{TABLE}_{table}_{event}"


def trigger_sql(table: str, bump: str = _BUMP) -> list[str]:
    """The three triggers that move `table`'s watermark back when old rows change."""
    mark = f"(SELECT checked_rowid FROM {TABLE} WHERE table_name = '{table}')"
    reset = (
        f"UPDATE {TABLE} SET checked_rowid = 0, generation = {bump} WHERE table_name = '{table}'"
    )
    lower = (
        f"UPDATE {TABLE} SET checked_rowid = NEW.rowid - 1, generation = {bump}"
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


def _as_stored(statements: list[str]) -> list[str]:
    """The text SQLite keeps in sqlite_master for these CREATE TRIGGER statements."""
    return [s.replace("CREATE TRIGGER IF NOT EXISTS ", "CREATE TRIGGER ", 1) for s in statements]


def watched(table: str, triggers: dict[str, str]) -> bool:
    """Whether `table` has exactly our three triggers, given the store's triggers by name
    (their `sqlite_master.sql`): only then does every change to it move its watermark."""
    found = [triggers.get(trigger_name(table, e)) for e in _EVENTS]
    return found == _as_stored(trigger_sql(table))


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
    """Create the tables, a row per input table and our triggers; return the tables reset.

    A table whose triggers are missing or not exactly ours may have been changed
    unobserved, so its watermark goes back to 0 before the triggers are (re)created.
    Triggers of the previous version (which counted generations) watched every change
    too: they are replaced in place. A table with no token yet (a store made before the
    log existed) gets one for its current watermark.
    """
    con.execute(DDL)
    con.execute(LOG_DDL)
    for stmt in IDENTITY_DDL:
        con.execute(stmt)
    tables = input_tables_present(con)
    con.executemany(
        f"INSERT OR IGNORE INTO {TABLE} (table_name, checked_rowid) VALUES (?, 0)",
        [(t,) for t in tables],
    )
    have = dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    reset = []
    for table in tables:
        if watched(table, have):
            continue
        found = [have.get(trigger_name(table, e)) for e in _EVENTS]
        if found != _as_stored(trigger_sql(table, _LEGACY_BUMP)):
            reset.append(table)
            con.execute(
                f"UPDATE {TABLE} SET checked_rowid = 0, generation = {_BUMP} WHERE table_name = ?",
                (table,),
            )
        for event in _EVENTS:
            con.execute(f"DROP TRIGGER IF EXISTS {trigger_name(table, event)}")
        for stmt in trigger_sql(table):
            con.execute(stmt)
    con.execute(
        f"INSERT INTO {LOG} (table_name, checked_rowid, token, checked_at)"
        f" SELECT table_name, checked_rowid, random(), datetime('now') FROM {TABLE} w"
        f" WHERE NOT EXISTS (SELECT 1 FROM {LOG} l WHERE l.table_name = w.table_name)"
    )
    return reset


def marks(con: sqlite3.Connection) -> dict[str, int]:
    """Each input table's watermark (0 when never checked)."""
    if not con.execute(f"SELECT 1 FROM sqlite_master WHERE name = '{TABLE}'").fetchone():
        return {}
    return dict(con.execute(f"SELECT table_name, checked_rowid FROM {TABLE}").fetchall())


def high_rowids(con: sqlite3.Connection, tables: list[str]) -> dict[str, int]:
    """The highest rowid of each table (0 when empty): one index lookup each."""
    return {t: int(con.execute(f"SELECT max(rowid) FROM {t}").fetchone()[0] or 0) for t in tables}


def _log(con: sqlite3.Connection, marks: dict[str, int]) -> None:
    """Record that each table's watermark moved to its rowid, with a fresh random token."""
    con.executemany(
        f"INSERT INTO {LOG} (table_name, checked_rowid, token, checked_at)"
        " VALUES (?, ?, random(), datetime('now'))",
        list(marks.items()),
    )


def _set(con: sqlite3.Connection, marks: dict[str, int]) -> None:
    con.executemany(
        f"UPDATE {TABLE} SET checked_rowid = ?, checked_at = datetime('now') WHERE table_name = ?",
        [(h, t) for t, h in marks.items()],
    )
    _log(con, marks)


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
    if cur.rowcount != 1:
        return False
    _log(con, {table: high})
    return True


def mark_checked(con: sqlite3.Connection) -> None:
    """Record every input table as checked up to its last row.

    Only for a writer whose rows meet the contract by construction: the world generator
    (tests/test_world.py checks a generated store rule by rule). Without it the first
    run on a generated `medium` store would re-read 19M rows that nothing else wrote.
    """
    ensure(con)
    _set(con, high_rowids(con, input_tables_present(con)))


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
    _set(con, {t: h for t, h in high.items() if h != caught_up[t]})
