"""`model_registry` and `model_events`: the models trained, and what became of them."""

from __future__ import annotations

import json
import sqlite3


def registered_count(con: sqlite3.Connection) -> int:
    return int(con.execute("SELECT COUNT(*) FROM model_registry").fetchone()[0])


def since_taking_over(con: sqlite3.Connection, version: str) -> tuple[str | None, list[dict]]:
    """How `version` became the active model (its newest `promoted` or `activated` event;
    None when no event says, as in a store older than the events) and the sidecars of the
    models trained after that event (after none: every one), in the order of the events
    (a backfill of older dates comes after too)."""
    found = con.execute(
        "SELECT rowid, event FROM model_events WHERE model_version = ?"
        " AND event IN ('promoted', 'activated') ORDER BY rowid DESC LIMIT 1",
        (version,),
    ).fetchone()
    rows = con.execute(
        "SELECT r.sidecar_json FROM model_events AS e"
        " JOIN model_registry AS r ON r.model_version = e.model_version"
        " WHERE e.event = 'trained' AND e.rowid > ? ORDER BY e.rowid",
        (found[0] if found else 0,),
    ).fetchall()
    return (str(found[1]) if found else None), [json.loads(r[0]) for r in rows]


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
