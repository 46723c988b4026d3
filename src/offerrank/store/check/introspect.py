"""Reading a store's contract tables as Arrow, losslessly, and what tables it holds."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from offerrank.store.contract import Table
from offerrank.store.db import query_arrow


def store_tables(db_path: Path) -> set[str]:
    rows = query_arrow(db_path, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    return set(rows.column(0).to_pylist())


def store_columns(db_path: Path) -> dict[str, set[str]]:
    """The column names of every table of the store."""
    pairs = query_arrow(
        db_path,
        "SELECT m.name, p.name FROM sqlite_master m "
        "JOIN pragma_table_info(m.name) p WHERE m.type = 'table'",
    )
    columns: dict[str, set[str]] = {}
    for table, column in zip(*(pairs.column(i).to_pylist() for i in range(2)), strict=True):
        columns.setdefault(table, set()).add(column)
    return columns


def read_store(
    db_path: Path,
    table: Table,
    bound: str | None = None,
    lo: int | None = None,
    hi: int | None = None,
    have: set[str] | None = None,
) -> pa.Table:
    """A store table as Arrow, losslessly, whatever SQLite's dynamic types hold.

    Numbers come typed (`c__n`), anything else as text (`c__t`): reading a REAL as text
    in SQLite would round it. A first probe row fixes each column's Arrow type, which
    the reader otherwise guesses from the first rows (all NULL, say). Columns missing
    from the store read as NULL. `bound` limits the rows to `lo <= bound <= hi` (it may
    be `rowid`, which is how a contract check reads only the rows it has not seen).
    """
    if have is None:
        have = store_columns(db_path).get(table.name, set())
    probe, body = ["1 AS __probe"], ["0"]
    for c in table.columns:
        v = c.name if c.name in have else "NULL"
        if c.kind in ("int", "flag", "real"):
            num = "'integer', 'real'" if c.kind == "real" else "'integer'"
            probe.append(f"{'0.5' if c.kind == 'real' else '0'} AS {c.name}__n")
            cast = "REAL" if c.kind == "real" else "INTEGER"
            body.append(f"CASE WHEN typeof({v}) IN ({num}) THEN CAST({v} AS {cast}) END")
            probe.append(f"'' AS {c.name}__t")
            body.append(f"CASE WHEN typeof({v}) NOT IN ({num}, 'null') THEN CAST({v} AS TEXT) END")
        else:
            probe.append(f"'' AS {c.name}__t")
            body.append(f"CAST({v} AS TEXT)")
    where = f" WHERE {bound} BETWEEN ? AND ?" if bound else ""
    sql = f"SELECT {', '.join(probe)} UNION ALL SELECT {', '.join(body)} FROM {table.name}{where}"
    return query_arrow(db_path, sql, [lo, hi] if bound else ())
