"""Bulk reads of the store into Arrow, in a separate process.

The ADBC SQLite driver reads millions of rows per second straight into Arrow, but it
carries its own copy of the SQLite library. Two SQLite libraries must never open the
same database file in one process: POSIX locks are per process, so when one closes
its file the other's locks vanish, and in WAL mode it may then checkpoint and delete
the WAL under the other's feet ("disk I/O error"). The reads therefore run in a
child process that writes Arrow IPC files; the parent maps them back.

The child (`python -m offerrank.store.arrow_child`) takes one JSON request per line on
stdin and answers one JSON line on stdout, so a process pays its start-up once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa


def _read(con: object, sql: str, params: list) -> pa.Table:
    cur = con.cursor()  # type: ignore[attr-defined]
    try:
        cur.execute(sql, params or None)
        return cur.fetch_arrow_table().combine_chunks()
    finally:
        cur.close()


def read_request(request: dict) -> None:
    """Answer one request: every query on one connection, inside one read transaction,
    so that all tables come from the same snapshot of the store even while another
    process writes to it (a run never joins orders of one state to lines of another)."""
    import adbc_driver_sqlite.dbapi as adbc

    out = Path(request["out"])
    with adbc.connect(request["db"], autocommit=False) as con:
        for i, (sql, params) in enumerate(request["queries"]):
            table = _read(con, sql, params)
            with (
                pa.OSFile(str(out / f"{i}.arrow"), "wb") as sink,
                pa.ipc.new_file(sink, table.schema) as writer,
            ):
                writer.write_table(table)
        con.rollback()


def main() -> None:
    for line in sys.stdin:
        answer: dict[str, object]
        try:
            read_request(json.loads(line))
            answer = {"ok": True}
        except Exception as exc:  # reported to the parent, which raises StoreError
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
