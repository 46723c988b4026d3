"""Bulk reads take every table from one snapshot, even while another process writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from offerrank.store.db import query_arrow_many

WRITER = textwrap.dedent(
    """
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    n = 0
    while True:
        n += 1
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO parent VALUES (?)", (n,))
        con.executemany("INSERT INTO child VALUES (?, ?)", [(n, i) for i in range(50)])
        con.execute("COMMIT")
    """
)


def test_tables_read_in_one_request_come_from_one_snapshot(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE parent (id INTEGER)")
        con.execute("CREATE TABLE child (parent_id INTEGER, i INTEGER)")
        con.execute("CREATE TABLE filler (x INTEGER)")
        con.executemany("INSERT INTO filler VALUES (?)", [(i,) for i in range(200_000)])
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)])
    try:
        for _ in range(15):
            # The slow middle read leaves the writer time to commit between the other two.
            parents, _, children = query_arrow_many(
                db,
                [
                    ("SELECT id FROM parent", ()),
                    ("SELECT SUM(x * 2) AS s FROM filler JOIN filler AS f2 USING (x)", ()),
                    ("SELECT parent_id FROM child", ()),
                ],
            )
            p = parents.column("id").to_numpy()
            c = children.column("parent_id").to_numpy()
            assert np.isin(c, p).all(), "child rows of parents the first read did not see"
            assert c.size == 50 * p.size
    finally:
        writer.kill()
        writer.wait()
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM parent").fetchone()[0] > 0
