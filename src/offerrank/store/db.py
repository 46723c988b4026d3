"""Connections, transactions and Arrow reads for the SQLite store.

Writes go through the standard library's sqlite3 in WAL mode, one transaction per
output swap, so readers never see half-written results. Bulk reads go through the
ADBC SQLite driver straight into Arrow, never row by row through Python.
"""

from __future__ import annotations

import atexit
import errno
import json
import os
import shutil
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

from offerrank.errors import OfferrankError, UsageError, one_line
from offerrank.store.contract import INPUT_TABLES, create_table_sql


class StoreError(OfferrankError):
    """A problem with the store itself (unreadable, not an offerrank store)."""


class StoreMissing(StoreError):
    """The store file does not exist: a usage error (exit code 2)."""

    exit_code = 2


class StoreNotAFile(UsageError):
    """`--db` names a folder: a usage error (exit code 2)."""


# The store's connection type, for modules that hand a connection to the read API
# (`store.read`) without running SQL themselves.
Connection = sqlite3.Connection


def require_store(path: Path) -> None:
    if path.is_dir():
        raise StoreNotAFile(f"{path} is a folder; --db names the store file (e.g. data/metro.db)")
    if not path.is_file():
        raise StoreMissing(
            f"store not found: {path} (create one with `offerrank generate` or `offerrank import`)"
        )


def require_writable(path: Path) -> None:
    """Refuse early, with the reason, a store that a command must write but cannot: SQLite
    writes the store and, in WAL mode, two files beside it."""
    checks = (
        (path, "the store file", ((os.R_OK, "readable"), (os.W_OK, "writable"))),
        (path.parent, "the store's folder", ((os.X_OK, "searchable"), (os.W_OK, "writable"))),
    )
    for target, what, modes in checks:
        for mode, word in modes:
            if target.exists() and not os.access(target, mode):
                raise StoreError(
                    f"{path}: {what} {target} is not {word}; this command writes to the"
                    " store, so it needs read and write access to the file and its folder"
                )


def connect(
    db_path: Path | str, *, create: bool = False, timeout: float = 30.0
) -> sqlite3.Connection:
    """Open the store in WAL mode with autocommit off; `create` allows a new file.

    The first statement reads the file's header, so a file that is not a SQLite database
    fails here, with its name, rather than in the middle of a command.
    """
    path = Path(db_path)
    if create and path.is_dir():
        raise StoreNotAFile(f"{path} is a folder; --db names the store file (e.g. data/metro.db)")
    if not create:
        require_store(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=OFF")
    except sqlite3.Error as exc:
        con.close()
        raise environment_error(exc, path) from None
    return con


def connect_readonly(db_path: Path | str) -> sqlite3.Connection:
    """Open the store for reading only (`status`): it works on a read-only file, and in a
    read-only folder (where SQLite cannot create the WAL's index beside it) it opens the
    file as immutable, which is safe because nobody can write there either."""
    path = Path(db_path)
    require_store(path)
    uri = path.resolve().as_uri()
    try:
        con = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
        con.execute("PRAGMA schema_version").fetchone()
    except sqlite3.OperationalError:
        if os.access(path.parent, os.W_OK):
            raise
        con = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise environment_error(exc, path) from None
    return con


def environment_error(exc: BaseException, db_path: Path | None) -> OfferrankError:
    """One line for a failure of the store or the file system, naming the file.

    SQLite's own words are kept in the message; what they mean for the operator (and
    the README's operating section: what to do) is added.
    """
    if isinstance(exc, OSError):
        name = exc.filename or db_path or "a file"
        reason = {
            errno.ENOSPC: "no space left on the device; free some and run again",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.EROFS: "read-only file system",
            errno.EISDIR: "is a folder, not a file",
            errno.ENOTDIR: "a part of the path is not a folder",
            errno.ENOENT: "no such file or folder",
        }.get(exc.errno or 0, one_line(exc.strerror or exc))
        return StoreError(f"{name}: {reason}")
    message = one_line(exc)
    what = _meaning(getattr(exc, "sqlite_errorname", "") or "", message, db_path)
    db = str(db_path) if db_path is not None else "the store"
    return StoreError(f"{db}: {what or 'the store failed'} (SQLite: {message})")


def _meaning(code: str, message: str, db_path: Path | None) -> str | None:
    """What a SQLite error (its code, or its message from another driver) means here."""
    if code == "SQLITE_FULL" or "disk is full" in message:
        return "disk full; the write was rolled back: free space and run again"
    if code == "SQLITE_NOTADB" or "not a database" in message:
        return "not a SQLite store; check --db, or restore the store from a backup"
    if code.startswith("SQLITE_CORRUPT") or "malformed" in message:
        return f"the store is damaged{_truncation(db_path)}; restore it from a backup"
    if code.startswith("SQLITE_READONLY") or "readonly" in message:
        return "read-only; this command needs write access to the store file and its folder"
    if code.startswith("SQLITE_CANTOPEN") or "unable to open" in message:
        return "cannot open the store; check that it and its folder exist and are accessible"
    if code.startswith("SQLITE_BUSY") or "database is locked" in message:
        return "another process holds the store's write lock; retry later"
    if code.startswith("SQLITE_IOERR") or "disk I/O error" in message:
        free = _free_bytes(db_path)
        if free is not None and free < 1 << 20:
            return f"disk full ({free} bytes free); the write was rolled back: free space, rerun"
        return "I/O error on the store or the files beside it (-wal, -shm); check the disk"
    return None


def _free_bytes(db_path: Path | None) -> int | None:
    try:
        return shutil.disk_usage(Path(db_path or ".").resolve().parent).free
    except OSError:
        return None


def _truncation(db_path: Path | None) -> str:
    """`: truncated (...)` when the file is shorter than its header says, else nothing."""
    try:
        assert db_path is not None
        with open(db_path, "rb") as fh:
            header = fh.read(100)
        page = int.from_bytes(header[16:18], "big")
        page = 65536 if page == 1 else page
        expected = page * int.from_bytes(header[28:32], "big")
        size = os.path.getsize(db_path)
    except (OSError, AssertionError):
        return ""
    return f": truncated ({size} of {expected} bytes)" if 0 < size < expected else ""


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
        con.execute("COMMIT")  # may fail too (a full disk): then roll back as well
    except BaseException:
        if con.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
            con.execute("ROLLBACK")
        raise


def create_input_tables(con: sqlite3.Connection) -> None:
    for table in INPUT_TABLES:
        con.execute(create_table_sql(table))


def table_exists(con: sqlite3.Connection, name: str) -> bool:
    row = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (name,)
    ).fetchone()
    return row is not None


class _ArrowChild:
    """The long-lived child process that performs Arrow reads (one per parent process)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.lock = threading.Lock()

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "offerrank.store.arrow_child"],
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
                return {
                    "ok": False,
                    "error": "the Arrow read process (store.arrow_child) ended unexpectedly",
                }
            answer: dict[str, Any] = json.loads(line)
            return answer

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        self.proc = None


_ARROW_CHILD = _ArrowChild()


def query_arrow_many(
    db_path: Path | str, queries: Sequence[tuple[str, Sequence[Any]]]
) -> list[pa.Table]:
    """Run SELECTs on the store and return each result as an Arrow table.

    The reads happen in a child process (see `offerrank.store.arrow_child` for why).
    Parameters must be JSON values (text dates, numbers).
    """
    with tempfile.TemporaryDirectory(prefix="offerrank-read-") as tmp:
        answer = _ARROW_CHILD.request(
            {
                "db": str(db_path),
                "out": tmp,
                "queries": [[sql, list(params)] for sql, params in queries],
            }
        )
        if not answer["ok"]:
            message = one_line(answer["error"])
            what = _meaning("", message, Path(db_path))
            raise StoreError(f"{db_path}: {what} (SQLite: {message})" if what else
                             f"reading {db_path} failed: {message}")  # fmt: skip
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
