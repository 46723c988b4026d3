"""The bulk writer process: appends a generated world's batches to its store through ADBC.

ADBC's SQLite driver binds whole Arrow columns in C, about twice as fast as the
standard library's `executemany` over Python tuples. It carries its own copy of the
SQLite library, which must never open a file that the standard library also has open
in the same process (see `offerrank.store.arrow_child`), so it runs here, in a child. The
parent (`offerrank.world.bulk`) computes the next day while this process writes the last.

Protocol on stdin, per batch: one JSON line `{"steps": [["rows", table, nbytes] |
["sql", statement, params], ...]}`, then for each `rows` step its Arrow IPC stream of
`nbytes` bytes. Each batch is one transaction, even when it is applied as it arrives.
On stdout: one JSON line at the end, `{"ok": true, "batches": n}` or `{"ok": false,
"error": "..."}` (the failed batch is rolled back; earlier ones stay committed).
"""

from __future__ import annotations

import json
import sys
from typing import Any, BinaryIO

import pyarrow as pa

READ_AHEAD_BYTES = 256 << 20


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) != n:
        raise EOFError(f"batch cut short: {len(data or b'')} of {n} bytes")
    return data


class _Store:
    """One connection through ADBC's low-level API (its DB-API module imports pandas, a
    second of start-up for nothing here)."""

    def __init__(self, db: str) -> None:
        import adbc_driver_manager as adbc
        import adbc_driver_sqlite

        self.adbc = adbc
        self.database = adbc_driver_sqlite.connect(db)
        self.con = adbc.AdbcConnection(self.database)
        self.execute("PRAGMA synchronous=NORMAL")  # as `store.db.connect`; not in a transaction
        self.con.set_autocommit(False)

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        stmt = self.adbc.AdbcStatement(self.con)
        try:
            stmt.set_sql_query(sql)
            if params:
                stmt.prepare()
                stmt.bind(
                    pa.record_batch(
                        [pa.array([v]) for v in params], [str(i) for i in range(len(params))]
                    )
                )
            stmt.execute_update()
        finally:
            stmt.close()

    def append(self, table: str, data: pa.Table) -> None:
        stmt = self.adbc.AdbcStatement(self.con)
        try:
            stmt.set_options(
                **{
                    self.adbc.INGEST_OPTION_TARGET_TABLE: table,
                    self.adbc.INGEST_OPTION_MODE: self.adbc.INGEST_OPTION_MODE_APPEND,
                }
            )
            stmt.bind_stream(data.to_reader())
            stmt.execute_update()
        finally:
            stmt.close()

    def close(self) -> None:
        self.con.close()
        self.database.close()


def apply_batches(db: str, stream: BinaryIO) -> int:
    """Apply every batch read from `stream`; return how many were committed."""
    store = _Store(db)
    done = 0
    try:
        while header := stream.readline():
            steps = json.loads(header)["steps"]
            # a day's batch is read whole first, so that the parent is free to compute the
            # next day; a world's population is applied as it comes, to bound memory
            ahead = sum(n for kind, _, n in steps if kind == "rows") <= READ_AHEAD_BYTES
            payloads = [
                _read_exact(stream, n) if kind == "rows" and ahead else b"" for kind, _, n in steps
            ]
            try:
                for (kind, target, arg), payload in zip(steps, payloads, strict=True):
                    if kind == "rows":
                        data = payload if ahead else _read_exact(stream, arg)
                        store.append(target, pa.ipc.open_stream(data).read_all())
                    else:
                        store.execute(target, arg)
            except BaseException:
                store.con.rollback()
                raise
            store.con.commit()
            done += 1
    finally:
        store.close()
    return done


def main() -> None:
    try:
        answer: dict[str, object] = {
            "ok": True,
            "batches": apply_batches(sys.argv[1], sys.stdin.buffer),
        }
    except Exception as exc:  # reported to the parent, which raises OfferrankError
        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
