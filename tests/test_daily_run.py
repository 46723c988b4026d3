"""End to end on the tiny world: the seed's two daily runs and what they must leave behind."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from offerrank.errors import RunError
from offerrank.pipeline.daily import STEPS, run_daily

REQUIRED = (
    "active_offers",
    "eligible_customers",
    "candidate_pool_size",
    "recommendations_written",
    "customers_with_recommendations",
    "candidate_recall",
    "auc",
    "precision_at_k",
    "recall_at_k",
    "margin_lift_at_k",
    "coverage",
    "diversity",
    "k",
    "retrained",
)


def metrics(db: Path, day: str) -> dict[str, float]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT metric, value FROM run_metrics WHERE run_date = ?", (day,)))


def test_two_runs_succeed_with_every_step_recorded(two_day_run) -> None:
    s, first, second = two_day_run
    assert first.ok and second.ok
    with sqlite3.connect(s.db_path) as con:
        rows = con.execute(
            "SELECT run_date, step, status FROM pipeline_runs ORDER BY rowid DESC LIMIT 30"
        ).fetchall()
    assert {(d, st) for d, st, _ in rows} == {
        (d, name) for d in ("2026-02-16", "2026-02-17") for name in STEPS
    }
    status = {(d, st): v for d, st, v in rows}
    assert status[("2026-02-16", "train")] == "success"  # a Monday: scheduled retrain
    assert status[("2026-02-17", "train")] == "skipped"  # loads the active model
    assert all(v in ("success", "skipped") for v in status.values())


@pytest.mark.parametrize("day", ["2026-02-16", "2026-02-17"])
def test_required_metrics_exist(two_day_run, day: str) -> None:
    s, *_ = two_day_run
    m = metrics(s.db_path, day)
    missing = [name for name in REQUIRED if name not in m]
    assert not missing
    assert m["active_offers"] > 0 and m["recommendations_written"] > 0
    assert 0 < m["candidate_recall"] <= 1
    assert m["auc"] > 0.6  # the tiny world is learnable
    assert m["k"] == s.eval_k and m["top_k"] == s.top_k
    assert m["eval_customers_at_k"] > 0


def test_recommendations_are_ranked_top_k(two_day_run) -> None:
    s, *_ = two_day_run
    with sqlite3.connect(s.db_path) as con:
        bad_ranks = con.execute(
            """SELECT COUNT(*) FROM (
                 SELECT run_date, customer_id, COUNT(*) AS n, MAX(rank) AS mx,
                        COUNT(DISTINCT offer_id) AS offers
                 FROM recommendations GROUP BY 1, 2)
               WHERE n > ? OR mx != n OR offers != n""",
            (s.top_k,),
        ).fetchone()[0]
        inverted = con.execute(
            """SELECT COUNT(*) FROM recommendations a JOIN recommendations b
               ON a.run_date = b.run_date AND a.customer_id = b.customer_id
               AND b.rank = a.rank + 1 WHERE b.score > a.score"""
        ).fetchone()[0]
        inactive = con.execute(
            """SELECT COUNT(*) FROM recommendations r JOIN offers o USING (offer_id)
               WHERE NOT (DATE(o.start_date) <= r.run_date AND DATE(o.end_date) >= r.run_date)"""
        ).fetchone()[0]
        versions = {v for (v,) in con.execute("SELECT DISTINCT model_version FROM recommendations")}
    assert bad_ranks == 0 and inverted == 0 and inactive == 0
    assert versions == {"2026-02-16-lgbm"} or versions == {"2026-02-16-lr"}


def test_winner_has_higher_validation_auc_and_is_calibrated(two_day_run) -> None:
    s, *_ = two_day_run
    m = metrics(s.db_path, "2026-02-16")
    assert "val_auc_lr" in m and "val_auc_lgbm" in m
    with sqlite3.connect(s.db_path) as con:
        kind, val_auc = con.execute(
            "SELECT model_type, val_auc FROM model_registry WHERE is_active = 1"
        ).fetchone()
    best = max(m["val_auc_lr"], m["val_auc_lgbm"])
    assert val_auc == pytest.approx(best)
    assert kind == ("lightgbm" if m["val_auc_lgbm"] >= m["val_auc_lr"] else "logistic_regression")
    # downsampling is undone: mean predicted probability ~ observed redemption rate
    observed, predicted = m["val_positive_rate"], m["val_mean_prediction"]
    assert predicted == pytest.approx(observed, rel=0.35)


def test_rerun_gives_identical_recommendations_and_no_duplicates(two_day_run) -> None:
    s, *_ = two_day_run
    query = (
        "SELECT customer_id, offer_id, rank, score, model_version FROM recommendations"
        " WHERE run_date = '2026-02-17' ORDER BY customer_id, rank"
    )
    with sqlite3.connect(s.db_path) as con:
        before = con.execute(query).fetchall()
        before_metrics = con.execute("SELECT COUNT(*) FROM run_metrics").fetchone()[0]
    run_daily(s, date(2026, 2, 17))
    with sqlite3.connect(s.db_path) as con:
        after = con.execute(query).fetchall()
        dupes = con.execute(
            "SELECT COUNT(*) FROM (SELECT run_date, customer_id, offer_id FROM recommendations"
            " GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        drift_dupes = con.execute(
            "SELECT COUNT(*) - COUNT(DISTINCT run_date || feature) FROM feature_drift"
        ).fetchone()[0]
        after_metrics = con.execute("SELECT COUNT(*) FROM run_metrics").fetchone()[0]
    assert after == before
    assert dupes == 0 and drift_dupes == 0
    assert after_metrics == before_metrics


def test_seed_repro_queries(two_day_run) -> None:
    s, *_ = two_day_run
    if shutil.which("sqlite3") is None:
        pytest.skip("the sqlite3 shell is not installed")
    runs = subprocess.run(
        [
            "sqlite3",
            "-header",
            "-column",
            str(s.db_path),
            "SELECT run_date, step, status FROM pipeline_runs ORDER BY rowid DESC LIMIT 30;",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "2026-02-17  evaluate" in runs.stdout
    offers = subprocess.run(
        [
            "sqlite3",
            str(s.db_path),
            "SELECT COUNT(*) AS active_offers FROM offers"
            " WHERE DATE(start_date)<=DATE('2026-02-16') AND DATE(end_date)>=DATE('2026-02-16');",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(offers.stdout) == metrics(s.db_path, "2026-02-16")["active_offers"] > 0


def test_date_without_active_offers_succeeds_and_says_why(world_db, settings) -> None:
    with sqlite3.connect(world_db) as con:
        con.execute(
            "UPDATE offers SET start_date = MIN(DATE(start_date), '2026-01-01'),"
            " end_date = '2026-01-01' WHERE DATE(end_date) >= '2026-02-16'"
            " AND DATE(start_date) <= '2026-02-16'"
        )
    result = run_daily(settings, date(2026, 2, 16))
    assert result.ok
    m = metrics(world_db, "2026-02-16")
    assert m["active_offers"] == 0 and m["recommendations_written"] == 0
    rank = next(s for s in result.steps if s.step == "rank")
    assert "no active offers" in rank.detail


def test_date_before_the_data_is_a_clear_error(settings) -> None:
    with pytest.raises(RunError, match="no orders before 2000-01-03"):
        run_daily(settings, date(2000, 1, 3))


def test_seed_command_line(world_db) -> None:
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-m", "src.daily_run", "--date", "1999-01-01", "--db", str(world_db)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert "no orders before 1999-01-01" in out.stderr and "Traceback" not in out.stderr


def test_ranking_by_expected_margin_orders_each_list_by_score_times_margin(
    world_db: Path, settings
) -> None:
    s = settings.model_copy(update={"rank_by": "expected_margin"})
    assert run_daily(s, date(2026, 2, 16)).ok
    with sqlite3.connect(world_db) as con:
        rows = con.execute(
            "SELECT r.customer_id, r.rank, r.score * (p.list_price * (1 - o.discount_pct)"
            " - p.unit_cost) FROM recommendations r JOIN offers o USING (offer_id)"
            " JOIN products p ON p.product_id = o.product_id"
            " WHERE r.run_date = '2026-02-16' ORDER BY r.customer_id, r.rank"
        ).fetchall()
    assert rows
    by_customer: dict[int, list[float]] = {}
    for customer, _, value in rows:
        by_customer.setdefault(customer, []).append(value)
    assert all(v == sorted(v, reverse=True) for v in by_customer.values())
    # and not the probability order: some list puts a lower score above a higher one
    with sqlite3.connect(world_db) as con:
        inverted = con.execute(
            "SELECT COUNT(*) FROM recommendations a JOIN recommendations b"
            " ON a.run_date = b.run_date AND a.customer_id = b.customer_id AND a.rank < b.rank"
            " WHERE a.run_date = '2026-02-16' AND a.score < b.score"
        ).fetchone()[0]
    assert inverted > 0
