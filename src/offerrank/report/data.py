"""Everything the run report shows, read from the store (never recomputed).

Small aggregated queries only: the report of a date is a view of what that run wrote.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

TREND_METRICS = (
    "auc",
    "val_auc_lr",
    "val_auc_lgbm",
    "candidate_pool_size",
    "recommendations_written",
    "drift_share",
    "features_drifted",
    "precision_at_k",
    "margin_lift_at_k",
)
TREND_DAYS = 60


@dataclass
class ReportData:
    run_date: str
    metrics: dict[str, float]
    steps: list[dict[str, Any]]
    run_id: str | None
    model: dict[str, Any] | None
    curves: dict[str, Any]
    validation_roc: dict[str, Any] | None
    drift: list[dict[str, Any]]
    importance: list[dict[str, Any]]
    top_offers: list[dict[str, Any]]
    trends: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _dicts(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _steps(con: sqlite3.Connection, day: str) -> tuple[str | None, list[dict[str, Any]]]:
    row = con.execute(
        "SELECT run_id FROM pipeline_runs WHERE run_date = ? ORDER BY rowid DESC LIMIT 1", (day,)
    ).fetchone()
    if row is None:
        return None, []
    cur = con.execute(
        "SELECT step, status, duration_s, started_at, detail FROM pipeline_runs"
        " WHERE run_id = ? ORDER BY rowid",
        (row[0],),
    )
    return row[0], _dicts(cur)


def _model(con: sqlite3.Connection, day: str) -> dict[str, Any] | None:
    """The model that produced the date's recommendations, with its validation figures."""
    row = con.execute(
        "SELECT m.model_version, m.model_type, m.trained_for, m.val_auc, m.sidecar_json"
        " FROM model_registry m WHERE m.model_version ="
        " (SELECT model_version FROM recommendations WHERE run_date = ? LIMIT 1)",
        (day,),
    ).fetchone()
    if row is None:
        return None
    sidecar = json.loads(row[4])
    return {
        "model_version": row[0],
        "model_type": row[1],
        "trained_for": row[2],
        "val_auc": row[3],
        "val_auc_lr": sidecar.get("val_auc_lr"),
        "val_auc_lgbm": sidecar.get("val_auc_lgbm"),
        "train_window": sidecar.get("train_window"),
        "validation_window": sidecar.get("validation_window"),
    }


def _curves(con: sqlite3.Connection, day: str) -> dict[str, Any]:
    rows = con.execute(
        "SELECT name, curve_json FROM run_curves WHERE run_date = ?", (day,)
    ).fetchall()
    return {name: json.loads(text) for name, text in rows}


def _trends(con: sqlite3.Connection, day: str) -> dict[str, list[tuple[str, float]]]:
    marks = ", ".join("?" * len(TREND_METRICS))
    rows = con.execute(
        f"SELECT metric, run_date, value FROM run_metrics WHERE metric IN ({marks})"
        " AND run_date <= ? AND run_date > date(?, ?) ORDER BY run_date",
        (*TREND_METRICS, day, day, f"-{TREND_DAYS} days"),
    ).fetchall()
    out: dict[str, list[tuple[str, float]]] = {m: [] for m in TREND_METRICS}
    for metric, run_date, value in rows:
        out[metric].append((run_date, value))
    return out


def read_report_data(con: sqlite3.Connection, day: str) -> ReportData:
    metrics = dict(
        con.execute("SELECT metric, value FROM run_metrics WHERE run_date = ?", (day,)).fetchall()
    )
    run_id, steps = _steps(con, day)
    model = _model(con, day)
    validation_roc = None
    if model is not None:
        validation_roc = _curves(con, model["trained_for"]).get("validation.roc")
    drift = _dicts(
        con.execute(
            "SELECT feature, psi, wasserstein, psi_threshold, wasserstein_threshold, drifted,"
            " top_value_share FROM feature_drift WHERE run_date = ? ORDER BY psi DESC",
            (day,),
        )
    )
    importance = _dicts(
        con.execute(
            "SELECT feature, mean_abs_contribution, mean_contribution, pairs, units,"
            " typical_median FROM feature_importance WHERE run_date = ?"
            " ORDER BY mean_abs_contribution DESC",
            (day,),
        )
    )
    top_offers = _dicts(
        con.execute(
            """SELECT r.offer_id, COUNT(*) AS customers, SUM(r.rank = 1) AS at_rank_1,
                      AVG(r.score) AS mean_score, p.category, o.discount_pct, o.product_id
               FROM recommendations r
               LEFT JOIN offers o ON o.offer_id = r.offer_id
               LEFT JOIN products p ON p.product_id = o.product_id
               WHERE r.run_date = ?
               GROUP BY r.offer_id ORDER BY customers DESC, r.offer_id LIMIT 15""",
            (day,),
        )
    )
    warnings = [
        note
        for (note,) in con.execute(
            "SELECT note FROM run_notes WHERE run_id = ? AND level = 'warning' ORDER BY rowid",
            (run_id,),
        )
    ]
    return ReportData(
        warnings=warnings,
        run_date=day,
        metrics=metrics,
        steps=steps,
        run_id=run_id,
        model=model,
        curves=_curves(con, day),
        validation_roc=validation_roc,
        drift=drift,
        importance=importance,
        top_offers=top_offers,
        trends=_trends(con, day),
    )
