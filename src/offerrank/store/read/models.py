"""`model_registry` and `model_events`: the models trained, and what became of them."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def registered_count(con: sqlite3.Connection) -> int:
    return int(con.execute("SELECT COUNT(*) FROM model_registry").fetchone()[0])


def refused_sidecars_since(con: sqlite3.Connection, day: str) -> list[dict[str, Any]]:
    """The sidecars of the models refused at promotion on or after date `day`."""
    rows = con.execute(
        "SELECT r.sidecar_json FROM model_events AS e"
        " JOIN model_registry AS r ON r.model_version = e.model_version"
        " WHERE e.event = 'refused' AND e.run_date >= ?",
        (day,),
    ).fetchall()
    return [json.loads(r[0]) for r in rows]


def replaced_by(con: sqlite3.Connection, version: str) -> str | None:
    """The model `version` replaced when it was first promoted (None: it replaced none,
    or was never promoted over another)."""
    row = con.execute(
        "SELECT incumbent_version FROM model_events WHERE model_version = ?"
        " AND event = 'promoted' AND incumbent_version IS NOT NULL"
        " AND incumbent_version != model_version ORDER BY rowid LIMIT 1",
        (version,),
    ).fetchone()
    return None if row is None else str(row[0])
