"""Connections, transactions and Arrow reads for the SQLite store.

Writes go through the standard library's sqlite3 in WAL mode, one transaction per
output swap, so readers never see half-written results. Bulk reads go through the
ADBC SQLite driver straight into Arrow, never row by row through Python.
"""

from __future__ import annotations

import atexit
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from offerrank.errors import OfferrankError
from offerrank.store.contract import INPUT_TABLES, create_table_sql


class StoreError(OfferrankError):
    """A problem with the store itself (unreadable, not an offerrank store)."""


class StoreMissing(StoreError):
    """The store file does not exist: a usage error (exit code 2)."""

    exit_code = 2


def require_store(path: Path) -> None:
    if not path.is_file():
        raise StoreMissing(
            f"store not found: {path} (create one with `offerrank generate` or `offerrank import`)"
        )


def connect(
    db_path: Path | str, *, create: bool = False, timeout: float = 30.0
) -> sqlite3.Connection:
    """Open the store in WAL mode with autocommit off; `create` allows a new file."""
    path = Path(db_path)
    if not create:
        require_store(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=OFF")
    return con


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (including KeyboardInterrupt).

    Nested use joins the open transaction: the outermost one commits or rolls back, so
    a step can make several writers' work one atomic swap.
    """
    if con.in_transaction:
        yield con
        return
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def create_input_tables(con: sqlite3.Connection) -> None:
    for table in INPUT_TABLES:
        con.execute(create_table_sql(table))


def table_exists(con: sqlite3.Connection, name: str) -> bool:
    row = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (name,)
    ).fetchone()
    return row is not None


class _Reader:
    """The long-lived child process that performs Arrow reads (one per parent process)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.lock = threading.Lock()

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "offerrank.store.reader"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    bufsize=1,
                )
                atexit.register(self.close)
            assert self.proc.stdin is not None and self.proc.stdout is not None
            try:
                self.proc.stdin.write(json.dumps(payload) + "\n")
                self.proc.stdin.flush()
                line = self.proc.stdout.readline()
            except BrokenPipeError:
                line = ""
            if not line:
                self.proc = None
                return {"ok": False, "error": "the reader process ended unexpectedly"}
            answer: dict[str, Any] = json.loads(line)
            return answer

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        self.proc = None


_READER = _Reader()


def query_arrow_many(
    db_path: Path | str, queries: Sequence[tuple[str, Sequence[Any]]]
) -> list[pa.Table]:
    """Run SELECTs on the store and return each result as an Arrow table.

    The reads happen in a child process (see `offerrank.store.reader` for why).
    Parameters must be JSON values (text dates, numbers).
    """
    with tempfile.TemporaryDirectory(prefix="offerrank-read-") as tmp:
        answer = _READER.request(
            {
                "db": str(db_path),
                "out": tmp,
                "queries": [[sql, list(params)] for sql, params in queries],
            }
        )
        if not answer["ok"]:
            raise StoreError(f"reading {db_path} failed: {answer['error']}")
        return [
            pa.ipc.open_file(pa.memory_map(str(Path(tmp) / f"{i}.arrow"))).read_all()
            for i in range(len(queries))
        ]


def query_arrow(db_path: Path | str, sql: str, params: Sequence[Any] = ()) -> pa.Table:
    """Run one SELECT on the store and return the result as an Arrow table."""
    return query_arrow_many(db_path, [(sql, params)])[0]


def insert_arrow(con: sqlite3.Connection, table: str, data: pa.Table) -> int:
    """Append an Arrow table's rows to `table` (same column names); caller commits."""
    if data.num_rows == 0:
        return 0
    cols = data.column_names
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    batch_rows = 200_000
    for offset in range(0, data.num_rows, batch_rows):
        chunk = data.slice(offset, batch_rows)
        columns = [chunk.column(c).to_pylist() for c in cols]
        con.executemany(sql, zip(*columns, strict=True))
    return data.num_rows
