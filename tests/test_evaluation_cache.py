"""An evaluation is reused only when it would come out the same: the same model, the same
impressions (whatever the window's edges), the same inputs; and a reused one equals the
one computed afresh."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from offerrank.config import Settings
from offerrank.pipeline.daily import run_daily

MONDAY, TUESDAY, WEDNESDAY = date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18)


def _evaluate(db: Path, day: date) -> tuple[str, list[tuple[str, float]]]:
    with sqlite3.connect(db) as con:
        (detail,) = con.execute(
            "SELECT detail FROM pipeline_runs WHERE run_date = ? AND step = 'evaluate'"
            " ORDER BY rowid DESC LIMIT 1",
            (day.isoformat(),),
        ).fetchone()
        metrics = con.execute(
            "SELECT metric, value FROM run_metrics WHERE run_date = ?"
            " AND metric NOT LIKE 'duration%' ORDER BY metric",
            (day.isoformat(),),
        ).fetchall()
    return detail, metrics


def test_a_window_moved_over_days_without_impressions_reuses_the_same_figures(
    settings: Settings,
) -> None:
    # Some weekdays without impressions, as coupon books come: none on 02-02 and 02-09, so
    # the windows of 02-16 (02-02..08) and 02-17 (02-03..09) hold the same impressions, and
    # none on 01-19 and 01-26, so do the weeks their calibration shifts are measured with.
    with sqlite3.connect(settings.db_path) as con:
        for day in ("2026-01-19", "2026-01-26", "2026-02-02", "2026-02-09"):
            con.execute(
                "DELETE FROM redemptions WHERE (customer_id, offer_id) IN (SELECT customer_id,"
                " offer_id FROM impressions WHERE shown_date = ?)",
                (day,),
            )
            con.execute("DELETE FROM impressions WHERE shown_date = ?", (day,))
    keep = settings.model_copy(update={"retrain_weekday": 6, "retrain_new_data_share": 0.0})
    assert run_daily(settings, MONDAY).ok
    assert run_daily(keep, TUESDAY).ok
    detail, reused = _evaluate(settings.db_path, TUESDAY)
    assert "figures reused" in detail and "2026-02-16" in detail
    _, monday = _evaluate(settings.db_path, MONDAY)
    shared = {"auc", "n_positives", "n_impressions", "precision_at_k", "calibration_ratio"}
    assert {m: v for m, v in reused if m in shared} == {m: v for m, v in monday if m in shared}

    # computed afresh, the same figures
    with sqlite3.connect(settings.db_path) as con:
        con.execute("DELETE FROM evaluation_cache")
    assert run_daily(keep, TUESDAY).ok
    detail, fresh = _evaluate(settings.db_path, TUESDAY)
    assert "reused" not in detail
    assert fresh == reused

    # a window with other impressions is evaluated again
    assert run_daily(keep, WEDNESDAY).ok
    detail, _ = _evaluate(settings.db_path, WEDNESDAY)
    assert "reused" not in detail
