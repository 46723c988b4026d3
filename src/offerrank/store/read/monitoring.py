"""What the monitoring steps keep between runs: drift references, the candidate recall
of each day, and reusable evaluations."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from offerrank.store.db import query_arrow, table_exists
from offerrank.store.results.outputs import RecallDay


def drift_reference(con: sqlite3.Connection, version: str) -> tuple[str, dict[str, Any]] | None:
    """(reference_date, profile) of a model's drift reference."""
    row = con.execute(
        "SELECT reference_date, profile_json FROM drift_reference WHERE model_version = ?",
        (version,),
    ).fetchone()
    return None if row is None else (row[0], json.loads(row[1]))


def recall_days(
    con: sqlite3.Connection, key: str, first: date, last: date
) -> dict[date, RecallDay]:
    """Days in [first, last] whose candidate recall was measured under the rules `key`."""
    rows = con.execute(
        "SELECT shown_date, positives, hits FROM candidate_recall_days"
        " WHERE rules_key = ? AND shown_date BETWEEN ? AND ?",
        (key, first.isoformat(), last.isoformat()),
    ).fetchall()
    return {
        date.fromisoformat(d): RecallDay(date.fromisoformat(d), int(n), int(h)) for d, n, h in rows
    }


def cached_evaluation(
    con: sqlite3.Connection, fingerprint: str
) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(run_date, figures, curves) of the evaluation stored under `fingerprint`."""
    row = con.execute(
        "SELECT run_date, metrics_json, curves_json FROM evaluation_cache WHERE fingerprint = ?",
        (fingerprint,),
    ).fetchone()
    return None if row is None else (str(row[0]), json.loads(row[1]), json.loads(row[2]))


def impression_truth(
    con: sqlite3.Connection, db_path: Path, first_id: int, last_id: int
) -> pa.Table | None:
    """impression_id, p_true of a generated world's impressions with ids in [first_id,
    last_id]; None for a store without the world's truth (imported data)."""
    if not table_exists(con, "sim_impression_truth"):
        return None
    return query_arrow(
        db_path,
        "SELECT impression_id, p_true FROM sim_impression_truth"
        " WHERE impression_id BETWEEN ? AND ?",
        (first_id, last_id),
    )
