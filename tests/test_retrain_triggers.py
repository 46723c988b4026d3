"""Retraining when the data says so: new mature impressions, history changed inside the
model's window, an out-of-sample AUC below the validation AUC; and not otherwise."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from offerrank.config import Settings
from offerrank.pipeline.daily import run_daily

MONDAY, TUESDAY = date(2026, 2, 16), date(2026, 2, 17)


@pytest.fixture
def trained(settings: Settings) -> Settings:
    """A store whose model was trained on Monday, with retraining otherwise by data only."""
    assert run_daily(settings, MONDAY).ok
    return settings.model_copy(update={"retrain_weekday": 6})  # never on a Tuesday


def _train_detail(db: Path) -> str:
    with sqlite3.connect(db) as con:
        (status, detail) = con.execute(
            "SELECT status, detail FROM pipeline_runs WHERE step = 'train'"
            " ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
    return f"{status}: {detail}"


def test_nothing_new_keeps_the_model(trained: Settings) -> None:
    assert run_daily(trained, TUESDAY).ok
    assert _train_detail(trained.db_path).startswith("skipped: using")


def test_enough_new_mature_impressions_retrain(trained: Settings) -> None:
    eager = trained.model_copy(update={"retrain_new_data_share": 0.001})
    assert run_daily(eager, TUESDAY).ok
    assert "new mature impressions since its window" in _train_detail(trained.db_path)


def test_an_update_inside_the_window_retrains(trained: Settings) -> None:
    with sqlite3.connect(trained.db_path) as con:
        con.execute(
            "UPDATE order_items SET quantity = quantity + 1 WHERE rowid ="
            " (SELECT i.rowid FROM order_items i JOIN orders o USING (order_id)"
            "  WHERE o.order_date = '2026-01-20' LIMIT 1)"
        )
    assert run_daily(trained, TUESDAY).ok
    assert "order_items changed since its data was read" in _train_detail(trained.db_path)


def test_a_late_row_dated_inside_the_window_retrains(trained: Settings) -> None:
    with sqlite3.connect(trained.db_path) as con:
        con.execute(
            "INSERT INTO impressions SELECT MAX(impression_id) + 1, 1, (SELECT MIN(offer_id)"
            " FROM offers), '2026-01-10', 'app', NULL FROM impressions"
        )
    assert run_daily(trained, TUESDAY).ok
    assert "impressions rows added since, dated inside its window" in _train_detail(trained.db_path)


def test_a_late_row_dated_after_the_window_does_not(trained: Settings) -> None:
    with sqlite3.connect(trained.db_path) as con:
        con.execute(
            "INSERT INTO impressions SELECT MAX(impression_id) + 1, 1, (SELECT MIN(offer_id)"
            " FROM offers), '2026-02-15', 'app', NULL FROM impressions"
        )
    assert run_daily(trained, TUESDAY).ok
    assert _train_detail(trained.db_path).startswith("skipped: using")


def test_an_out_of_sample_auc_below_the_validation_auc_retrains(trained: Settings) -> None:
    with sqlite3.connect(trained.db_path) as con:
        con.execute(
            "UPDATE run_metrics SET value = 0.5 WHERE run_date = ? AND metric = 'auc_ci_high'",
            (MONDAY.isoformat(),),
        )
    assert run_daily(trained, TUESDAY).ok
    assert "fell below its validation AUC" in _train_detail(trained.db_path)
