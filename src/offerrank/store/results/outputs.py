"""The output tables a run writes, and their only writers, by column name.

`store.results.migrations` creates these tables and `store.results.output_tables`
declares them; every write to them goes through a function here, so no other module
writes SQL against them. Each writer leaves the transaction to its caller
(`db.transaction`), so that a step can make its outputs and its metrics one atomic swap.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import pyarrow as pa

from offerrank.store.db import insert_arrow
from offerrank.store.results.output_tables import MODEL_EVENTS, RECOMMENDATIONS

EXPLANATION_TABLES = ("explanation_pairs", "explanation_contributions", "feature_importance")


def _insert(con: sqlite3.Connection, table: str, columns: Sequence[str], rows: Iterable) -> None:
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    con.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


# -- run log and configuration ------------------------------------------------------------
STEP_COLUMNS = ("run_id", "run_date", "step", "status", "started_at", "pid")


def start_step(
    con: sqlite3.Connection, run_id: str, day: str, step: str, started_at: str, pid: int
) -> int:
    """A `running` row for a step; returns its rowid, which `finish_step` updates."""
    cur = con.execute(
        f"INSERT INTO pipeline_runs ({', '.join(STEP_COLUMNS)}) VALUES (?, ?, ?, 'running', ?, ?)",
        (run_id, day, step, started_at, pid),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def finish_step(
    con: sqlite3.Connection,
    rowid: int,
    status: str,
    finished_at: str,
    duration_s: float,
    detail: str,
) -> None:
    con.execute(
        "UPDATE pipeline_runs SET status = ?, finished_at = ?, duration_s = ?, detail = ?"
        " WHERE rowid = ?",
        (status, finished_at, duration_s, detail, rowid),
    )


def mark_interrupted(con: sqlite3.Connection, rowids: Sequence[int], finished_at: str) -> None:
    con.executemany(
        "UPDATE pipeline_runs SET status = 'interrupted', finished_at = ?,"
        " detail = 'process ended before the step finished' WHERE rowid = ?",
        [(finished_at, r) for r in rowids],
    )


def write_run_config(con: sqlite3.Connection, day: str, run_id: str, settings_json: str) -> None:
    con.execute(
        "INSERT OR REPLACE INTO run_config (run_date, run_id, settings_json) VALUES (?, ?, ?)",
        (day, run_id, settings_json),
    )


# -- metrics ------------------------------------------------------------------------------
def put_metrics(con: sqlite3.Connection, day: str, values: Mapping[str, float]) -> None:
    """Insert or replace one row per metric of the date."""
    con.executemany(
        "INSERT OR REPLACE INTO run_metrics (run_date, metric, value) VALUES (?, ?, ?)",
        [(day, k, v) for k, v in values.items()],
    )


def keep_only_metrics(con: sqlite3.Connection, day: str, names: Sequence[str]) -> None:
    """A rerun replaces the date's metrics: drop those it did not produce."""
    con.execute(
        f"DELETE FROM run_metrics WHERE run_date = ? AND metric NOT IN "
        f"({', '.join('?' * len(names))})",
        (day, *names),
    )


# -- recommendations ----------------------------------------------------------------------
RECOMMENDATION_COLUMNS = tuple(RECOMMENDATIONS.column_names)


def clear_recommendations(con: sqlite3.Connection, day: str) -> None:
    """Drop the date's served lists (a rerun replaces them)."""
    con.execute("DELETE FROM recommendations WHERE run_date = ?", (day,))


def append_recommendations(
    con: sqlite3.Connection, day: str, model_version: str, recs: pa.Table
) -> None:
    """Add served rows (customer_id, offer_id, rank, score, propensity) of the date."""
    n = recs.num_rows
    rows = recs.append_column("run_date", pa.repeat(pa.scalar(day, pa.string()), n))
    rows = rows.append_column("model_version", pa.repeat(pa.scalar(model_version, pa.string()), n))
    insert_arrow(con, "recommendations", rows.select(list(RECOMMENDATION_COLUMNS)))


# -- explanations -------------------------------------------------------------------------
def replace_explanations(con: sqlite3.Connection, day: str, tables: Mapping[str, pa.Table]) -> None:
    """Drop the date's rows of every explanation table and insert `tables` (by name)."""
    unknown = set(tables) - set(EXPLANATION_TABLES)
    if unknown:
        raise ValueError(f"not an explanation table: {sorted(unknown)}")
    for name in EXPLANATION_TABLES:
        con.execute(f"DELETE FROM {name} WHERE run_date = ?", (day,))
    for name, data in tables.items():
        insert_arrow(con, name, data)


# -- drift --------------------------------------------------------------------------------
class DriftRow(Protocol):
    """One feature's drift statistics and verdict (`monitoring.drift.FeatureDrift`)."""

    @property
    def feature(self) -> str: ...
    @property
    def psi(self) -> float: ...
    @property
    def wasserstein(self) -> float: ...
    @property
    def psi_threshold(self) -> float: ...
    @property
    def wasserstein_threshold(self) -> float: ...
    @property
    def drifted(self) -> bool: ...


def replace_feature_drift(
    con: sqlite3.Connection,
    day: str,
    rows: Sequence[DriftRow],
    top_value_shares: Mapping[str, float],
) -> None:
    """The date's drift per feature, with the share of today's pairs holding the feature's
    most common value; a feature without drift statistics (no reference to compare with)
    gets NULL statistics."""
    con.execute("DELETE FROM feature_drift WHERE run_date = ?", (day,))
    by_feature = {r.feature: r for r in rows}
    columns = (
        "run_date",
        "feature",
        "psi",
        "wasserstein",
        "psi_threshold",
        "wasserstein_threshold",
        "drifted",
        "top_value_share",
    )
    values = []
    for feature in dict.fromkeys([*by_feature, *top_value_shares]):
        r = by_feature.get(feature)
        stats = (
            (r.psi, r.wasserstein, r.psi_threshold, r.wasserstein_threshold, int(r.drifted))
            if r is not None
            else (None, None, None, None, 0)
        )
        values.append((day, feature, *stats, top_value_shares.get(feature)))
    _insert(con, "feature_drift", columns, values)


def put_drift_reference(
    con: sqlite3.Connection, model_version: str, day: str, profile: Mapping[str, Any]
) -> None:
    con.execute(
        "INSERT OR REPLACE INTO drift_reference (model_version, reference_date, profile_json)"
        " VALUES (?, ?, ?)",
        (model_version, day, json.dumps(profile)),
    )


# -- curves -------------------------------------------------------------------------------
def replace_curves(
    con: sqlite3.Connection, day: str, groups: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Replace the date's curves of each group (`validation`, `evaluation`); other groups
    stay. Returns the names written (`group.curve`)."""
    rows = [
        (day, f"{group}.{name}", json.dumps(payload, allow_nan=False))
        for group, curves in groups.items()
        for name, payload in curves.items()
    ]
    for group in groups:
        con.execute(
            "DELETE FROM run_curves WHERE run_date = ? AND name LIKE ?", (day, f"{group}.%")
        )
    _insert(con, "run_curves", ("run_date", "name", "curve_json"), rows)
    return [name for _, name, _ in rows]


# -- candidate recall by day --------------------------------------------------------------
@dataclass(frozen=True)
class RecallDay:
    """The candidate rules measured on one shown date: its positives and how many were hit."""

    shown_date: date
    positives: int
    hits: int


def save_recall_days(con: sqlite3.Connection, rules_key: str, days: Sequence[RecallDay]) -> None:
    """Record (or replace) each day's result under the rules' fingerprint."""
    con.executemany(
        "INSERT OR REPLACE INTO candidate_recall_days (shown_date, rules_key, positives, hits)"
        " VALUES (?, ?, ?, ?)",
        [(d.shown_date.isoformat(), rules_key, d.positives, d.hits) for d in days],
    )


def clear_recall_days(con: sqlite3.Connection) -> None:
    """Forget every measured day (new input rows may predate any of them)."""
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'candidate_recall_days'").fetchone():
        con.execute("DELETE FROM candidate_recall_days")


# -- model registry -----------------------------------------------------------------------
@dataclass(frozen=True)
class ModelRow:
    model_version: str
    model_type: str
    trained_for: str
    artifact_path: str
    sha256: str
    val_auc: float | None
    created_at: str
    sidecar_json: str


def register_model(con: sqlite3.Connection, row: ModelRow, *, active: bool) -> None:
    """Add (or replace) a model version; `active` makes it the registry's only active one."""
    con.execute("DELETE FROM model_registry WHERE model_version = ?", (row.model_version,))
    _insert(
        con,
        "model_registry",
        (
            "model_version",
            "model_type",
            "trained_for",
            "artifact_path",
            "sha256",
            "val_auc",
            "is_active",
            "created_at",
            "sidecar_json",
        ),
        [
            (
                row.model_version,
                row.model_type,
                row.trained_for,
                row.artifact_path,
                row.sha256,
                row.val_auc,
                0,
                row.created_at,
                row.sidecar_json,
            )
        ],
    )
    if active:
        set_active_model(con, row.model_version)


def set_active_model(con: sqlite3.Connection, version: str) -> None:
    """Make `version` the only active model."""
    con.execute("UPDATE model_registry SET is_active = 0 WHERE is_active = 1")
    con.execute("UPDATE model_registry SET is_active = 1 WHERE model_version = ?", (version,))


@dataclass(frozen=True)
class ModelEvent:
    """A decision about a model version: trained, promoted, refused or activated."""

    at: str
    model_version: str
    event: str
    run_date: str | None = None
    val_auc: float | None = None
    incumbent_version: str | None = None
    incumbent_auc: float | None = None
    delta_ci_low: float | None = None
    delta_ci_high: float | None = None
    detail: str | None = None


MODEL_EVENT_COLUMNS = tuple(MODEL_EVENTS.column_names)


def record_model_event(con: sqlite3.Connection, event: ModelEvent) -> None:
    _insert(
        con,
        "model_events",
        MODEL_EVENT_COLUMNS,
        [tuple(getattr(event, c) for c in MODEL_EVENT_COLUMNS)],
    )


# -- run notes ----------------------------------------------------------------------------
def replace_run_notes(con: sqlite3.Connection, day: str, run_id: str, notes: Sequence[str]) -> None:
    """The date's notes (a rerun replaces them); a note starting "warning:" is a warning."""
    con.execute("DELETE FROM run_notes WHERE run_date = ?", (day,))
    _insert(
        con,
        "run_notes",
        ("run_date", "run_id", "level", "note"),
        [
            (
                day,
                run_id,
                "warning" if n.startswith("warning:") else "note",
                n.removeprefix("warning:").strip(),
            )
            for n in notes
        ],
    )


# -- evaluation reuse ---------------------------------------------------------------------
def save_evaluation(
    con: sqlite3.Connection,
    fingerprint: str,
    day: str,
    metrics: Mapping[str, float | None],
    curves: Mapping[str, Any],
) -> None:
    con.execute(
        "INSERT OR REPLACE INTO evaluation_cache (fingerprint, run_date, metrics_json,"
        " curves_json) VALUES (?, ?, ?, ?)",
        (fingerprint, day, json.dumps(dict(metrics)), json.dumps(curves, allow_nan=False)),
    )
