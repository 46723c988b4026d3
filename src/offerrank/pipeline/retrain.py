"""When to retrain: on the scheduled weekday, without a usable model, after drift, and when
the data says so.

The data says so when (checked in this order, the first reason found is recorded):
- enough new mature labelled impressions arrived after the model's window
  (`retrain_new_data_share` of the impressions it was trained and validated on);
- history inside the model's window changed since it was trained: an update, delete or
  low-key insert of any input table (its watermark generation moved), or rows appended
  later but dated inside the window (found among the rows above the rowids the model
  saw, so only new rows are read);
- the model's out-of-sample AUC on the latest evaluated run fell below its validation AUC
  by more than that evaluation's interval (the interval's upper end is below it).

The model carries what these checks need (`store_state`: each input table's generation
and last rowid when its data was read) in its sidecar.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from typing import Any

from offerrank.config import Settings
from offerrank.features.registry import CONTRACT_FEATURES, FEATURE_SETS
from offerrank.store.contract import INPUT_TABLES
from offerrank.store.db import table_exists
from offerrank.training.dataset import last_mature_day
from offerrank.training.registry import ActiveModel

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# The rows of a table appended after the model's data was read that can change what it
# learned from its window: their date column, and how far past the window's last shown
# date it may lie (order lines go by their order's date).
_DATED_ROWS = {
    "orders": "SELECT COUNT(*) FROM orders WHERE rowid > ? AND SUBSTR(order_date, 1, 10) <= ?",
    "order_items": (
        "SELECT COUNT(*) FROM order_items AS i JOIN orders AS o ON o.order_id = i.order_id"
        " WHERE i.rowid > ? AND SUBSTR(o.order_date, 1, 10) <= ?"
    ),
    "impressions": (
        "SELECT COUNT(*) FROM impressions WHERE rowid > ? AND SUBSTR(shown_date, 1, 10) <= ?"
    ),
    "redemptions": (
        "SELECT COUNT(*) FROM redemptions WHERE rowid > ? AND SUBSTR(redeemed_date, 1, 10) <= ?"
    ),
}


def store_state(con: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Each input table's watermark generation and last rowid, as a model records them."""
    generations: dict[str, int] = {}
    if table_exists(con, "contract_watermarks"):
        generations = dict(
            con.execute("SELECT table_name, generation FROM contract_watermarks").fetchall()
        )
    state = {}
    for table in INPUT_TABLES:
        if table_exists(con, table.name):
            last = con.execute(f"SELECT MAX(rowid) FROM {table.name}").fetchone()[0]
            state[table.name] = {
                "generation": int(generations.get(table.name, 0)),
                "rowid": int(last or 0),
            }
    return state


def last_run_drifted(con: sqlite3.Connection, run_date: date) -> str | None:
    """The date of the latest earlier run, if its dataset-level drift flag was raised."""
    row = con.execute(
        "SELECT run_date, value FROM run_metrics WHERE metric = 'dataset_drift' AND run_date < ?"
        " ORDER BY run_date DESC LIMIT 1",
        (run_date.isoformat(),),
    ).fetchone()
    return row[0] if row and row[1] == 1 else None


def retrain_reason(
    con: sqlite3.Connection,
    run_date: date,
    settings: Settings,
    active: ActiveModel | None,
) -> str | None:
    """Why to retrain today, or None to keep the active model."""
    if active is None:
        registered = con.execute("SELECT COUNT(*) FROM model_registry").fetchone()[0]
        return "no usable model artifact" if registered else "no model yet"
    if run_date.weekday() == settings.retrain_weekday:
        return f"scheduled ({WEEKDAYS[settings.retrain_weekday]})"
    drifted_on = last_run_drifted(con, run_date)
    if drifted_on:
        return f"drift flagged on {drifted_on}"
    return (
        _features_changed(con, active, settings)
        or _new_data(con, run_date, settings, active.sidecar)
        or _history_changed(con, active.sidecar, settings)
        or _out_of_sample_drop(con, run_date, active)
    )


def _features_changed(
    con: sqlite3.Connection, active: ActiveModel, settings: Settings
) -> str | None:
    """The model's features are not the configured set's (`feature_set`): a model keeps
    serving on its own features until a retrain replaces it, which this asks for, once:
    after a model of the configured set was refused at promotion, the other triggers
    (the schedule, drift, new data) decide, not every run."""
    wanted = FEATURE_SETS[settings.feature_set].columns
    own = tuple(active.sidecar.get("feature_columns") or CONTRACT_FEATURES)
    if own == wanted:
        return None
    refused = con.execute(
        "SELECT r.sidecar_json FROM model_events AS e"
        " JOIN model_registry AS r ON r.model_version = e.model_version"
        " WHERE e.event = 'refused' AND e.run_date >= ?",
        (str(active.sidecar.get("trained_for", "")),),
    ).fetchall()
    if any(tuple(json.loads(r[0]).get("feature_columns") or ()) == wanted for r in refused):
        return None
    added = [c for c in wanted if c not in own]
    dropped = [c for c in own if c not in wanted]
    change = ", ".join(
        part
        for part in (
            f"{len(added)} added" if added else "",
            f"{len(dropped)} dropped" if dropped else "",
        )
        if part
    )
    return (
        f"feature set changed to '{settings.feature_set}' ({change or 'reordered'}:"
        f" {len(own)} -> {len(wanted)} features)"
    )


def _window(sidecar: dict[str, Any]) -> tuple[str, str] | None:
    train, validation = sidecar.get("train_window"), sidecar.get("validation_window")
    return (train[0], validation[1]) if train and validation else None


def _count_shown(con: sqlite3.Connection, first: str, last: str) -> int:
    return int(
        con.execute(
            "SELECT COUNT(*) FROM impressions WHERE shown_date >= ? AND shown_date <= ?",
            (first, last + "\uffff"),  # timestamps of the last day count too
        ).fetchone()[0]
    )


def _new_data(
    con: sqlite3.Connection, run_date: date, settings: Settings, sidecar: dict[str, Any]
) -> str | None:
    window = _window(sidecar)
    if window is None or settings.retrain_new_data_share <= 0:
        return None
    newest = last_mature_day(run_date, settings).isoformat()
    first_new = (date.fromisoformat(window[1]) + timedelta(days=1)).isoformat()
    if first_new > newest:
        return None
    seen = _count_shown(con, *window)
    new = _count_shown(con, first_new, newest)
    if seen and new >= settings.retrain_new_data_share * seen:
        return (
            f"{new} new mature impressions since its window (at least"
            f" {settings.retrain_new_data_share:g} of the {seen} it learned from)"
        )
    return None


def _history_changed(
    con: sqlite3.Connection, sidecar: dict[str, Any], settings: Settings
) -> str | None:
    window, before = _window(sidecar), sidecar.get("store_state")
    if window is None or not before:
        return None
    now = store_state(con)
    last = window[1]
    labels_last = date.fromisoformat(last) + timedelta(days=settings.label_window_days)
    for table, seen in before.items():
        if table not in now or now[table]["generation"] != seen["generation"]:
            return f"{table} changed since its data was read (an update, delete or old key)"
        query = _DATED_ROWS.get(table)
        if query is None or now[table]["rowid"] <= seen["rowid"]:
            continue
        upto = labels_last.isoformat() if table == "redemptions" else last
        found = int(con.execute(query, (seen["rowid"], upto)).fetchone()[0])
        if found:
            return f"{found} {table} rows added since, dated inside its window"
    return None


def _out_of_sample_drop(con: sqlite3.Connection, run_date: date, active: ActiveModel) -> str | None:
    """The latest earlier evaluation of this model, when its interval is below the
    model's validation AUC."""
    val_auc = active.sidecar.get("val_auc")
    if val_auc is None:
        return None
    found = con.execute(
        "SELECT run_date, value FROM run_metrics WHERE metric = 'auc' AND run_date < ?"
        " ORDER BY run_date DESC LIMIT 1",
        (run_date.isoformat(),),
    ).fetchone()
    if found is None:
        return None
    day, auc = found
    model = con.execute(
        "SELECT model_version FROM recommendations WHERE run_date = ? LIMIT 1", (day,)
    ).fetchone()
    high = con.execute(
        "SELECT value FROM run_metrics WHERE run_date = ? AND metric = 'auc_ci_high'", (day,)
    ).fetchone()
    if model is None or model[0] != active.version or high is None:
        return None
    row = (day, auc, high[0])
    if row is None or row[2] is None or row[2] >= val_auc:
        return None
    return (
        f"out-of-sample AUC {row[1]:.4f} on {row[0]} (interval up to {row[2]:.4f}) fell"
        f" below its validation AUC {val_auc:.4f}"
    )
