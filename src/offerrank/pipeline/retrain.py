"""When to retrain: on the scheduled weekday, without a usable model, after drift, and when
the data says so.

The configured feature set (`feature_set`) differs from the active model's, once (see
`_features_changed`). The data says so when (checked in this order, the first reason
found is recorded):
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

import sqlite3
from datetime import date, timedelta
from typing import Any

from offerrank.config import Settings
from offerrank.features.registry import FEATURE_SETS
from offerrank.store.read import inputs, metrics, models, recommendations
from offerrank.training.dataset import last_mature_day
from offerrank.training.registry import ActiveModel, columns_of

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def last_run_drifted(con: sqlite3.Connection, run_date: date) -> str | None:
    """The date of the latest earlier run, if its dataset-level drift flag was raised."""
    found = metrics.latest_before(con, "dataset_drift", run_date.isoformat())
    return found[0] if found and found[1] == 1 else None


def retrain_reason(
    con: sqlite3.Connection,
    run_date: date,
    settings: Settings,
    active: ActiveModel | None,
) -> str | None:
    """Why to retrain today, or None to keep the active model."""
    if active is None:
        registered = models.registered_count(con)
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
    serving on its own features until a retrain replaces it, which this asks for once.
    After a model of the configured set was trained since the active one took over (and
    refused), or when the active one was made active by hand (a rollback), the other
    triggers (the schedule, drift, new data) decide, not every run."""
    wanted = FEATURE_SETS[settings.feature_set].columns
    own = columns_of(active.sidecar)
    if own == wanted:
        return None
    how, trained = models.since_taking_over(con, active.version)
    if how == "activated":
        return None
    if any(columns_of(side) == wanted for side in trained):
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
    seen = inputs.impressions_shown(con, *window)
    new = inputs.impressions_shown(con, first_new, newest)
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
    now = inputs.store_state(con)
    last = window[1]
    labels_last = date.fromisoformat(last) + timedelta(days=settings.label_window_days)
    for table, seen in before.items():
        if table not in now or now[table]["generation"] != seen["generation"]:
            return f"{table} changed since its data was read (an update, delete or old key)"
        if table not in inputs.DATED_TABLES or now[table]["rowid"] <= seen["rowid"]:
            continue
        upto = labels_last.isoformat() if table == "redemptions" else last
        found = inputs.rows_added_dated_by(con, table, seen["rowid"], upto)
        if found:
            return f"{found} {table} rows added since, dated inside its window"
    return None


def _out_of_sample_drop(con: sqlite3.Connection, run_date: date, active: ActiveModel) -> str | None:
    """The latest earlier evaluation of this model, when its interval is below the
    model's validation AUC."""
    val_auc = active.sidecar.get("val_auc")
    if val_auc is None:
        return None
    found = metrics.latest_before(con, "auc", run_date.isoformat())
    if found is None:
        return None
    day, auc = found
    high = metrics.value_of(con, day, "auc_ci_high")
    if recommendations.served_model(con, day) != active.version or high is None:
        return None
    if high >= val_auc:
        return None
    return (
        f"out-of-sample AUC {auc:.4f} on {day} (interval up to {high:.4f}) fell"
        f" below its validation AUC {val_auc:.4f}"
    )
