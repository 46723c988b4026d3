"""Every setting does what it says: a check per key, and a guard that no key goes without
one (a setting that is read nowhere is a setting an operator trusts for nothing).

Most keys are changed together in one run of the tiny world and compared with the same
date's run under the defaults (`two_day_run`); the others, whose effect shows in one
place, are checked there directly.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from offerrank.config import Settings
from offerrank.pipeline.daily import run_daily

DAY = date(2026, 2, 16)
CHANGED: dict[str, Any] = {
    "lookback_days": 30,
    "label_window_days": 2,
    "train_window_days": 21,
    "max_train_window_days": 28,
    "min_train_positives": 10**6,  # widen as far as allowed: 28 days
    "validation_days": 5,
    "negative_ratio": 5.0,
    "seed": 7,
    "top_k": 3,
    "candidate_recall_target": 0.9,
    "max_candidates_per_customer": 8,
    "candidate_recall_warning": 0.999,
    "partitions": 3,
    "rank_by": "expected_margin",
    "serving": "epsilon",
    "exploration_epsilon": 0.5,
    "serving_seed": 3,
    "explain_sample": 100,
    "drift_sample": 1000,
    "eval_days": 3,
    "eval_k": 1,
    "bootstrap_samples": 0,
    "min_evaluation_positives": 10**6,
}


@dataclass
class View:
    """What one run of DAY left in its store."""

    db: Path
    settings: Settings
    metrics: dict[str, float]
    notes: list[str]

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        with sqlite3.connect(self.db) as con:
            return con.execute(sql, params).fetchall()

    @property
    def sidecar(self) -> dict[str, Any]:
        (text,) = self.rows(
            "SELECT sidecar_json FROM model_registry WHERE trained_for = ?", DAY.isoformat()
        )[0]
        return json.loads(text)


@pytest.fixture(scope="module")
def runs(two_day_run, tmp_path_factory: pytest.TempPathFactory) -> tuple[View, View]:
    base, first, _ = two_day_run
    folder = tmp_path_factory.mktemp("changed")
    db = folder / "metro.db"
    shutil.copy(base.db_path, db)
    with sqlite3.connect(db) as con:  # the tiny world as it was before any run
        for table in ("pipeline_runs", "run_metrics", "recommendations", "model_registry"):
            con.execute(f"DELETE FROM {table}")
    changed = base.model_copy(
        update={
            "db_path": db,
            "artifacts_dir": folder / "models",
            "reports_dir": folder / "reports",
            **CHANGED,
        }
    )
    result = run_daily(changed, DAY)
    assert result.ok
    default = View(base.db_path, base, first.metrics, first.notes)
    return default, View(db, changed, result.metrics, result.notes)


Check = Callable[[View, View], None]


def _per_customer_max(v: View) -> int:
    return v.rows(
        "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM recommendations WHERE run_date = ?"
        " GROUP BY customer_id)",
        DAY.isoformat(),
    )[0][0]


def _window_days(v: View, key: str) -> int:
    first, last = (date.fromisoformat(d) for d in v.sidecar[key])
    return (last - first).days + 1


def check_lookback(d: View, c: View) -> None:
    query = (
        "SELECT MAX(value) FROM explanation_contributions"
        " WHERE feature = 'recency_days' AND run_date = ?"
    )
    assert c.rows(query, DAY.isoformat())[0][0] == 31.0  # "no order in W" is L + 1
    assert d.rows(query, DAY.isoformat())[0][0] == 91.0


def check_label_window(d: View, c: View) -> None:
    # fewer days to redeem: fewer positives on the same kind of days
    assert c.metrics["val_positive_rate"] < d.metrics["val_positive_rate"]
    last = date.fromisoformat(c.sidecar["validation_window"][1])
    assert (DAY - last).days == 2 + 1  # mature: s + 2 < D


CHECKS: dict[str, Check] = {
    "lookback_days": check_lookback,
    "label_window_days": check_label_window,
    "max_train_window_days": lambda d, c: (
        None
        if _window_days(c, "train_window") + _window_days(c, "validation_window") == 28
        else pytest.fail("the window did not stop at max_train_window_days")
    ),
    "validation_days": lambda d, c: (
        None if _window_days(c, "validation_window") == 5 else pytest.fail("validation days")
    ),
    "negative_ratio": lambda d, c: (
        None
        if c.metrics["train_rows"] <= 6 * c.metrics["train_positives"] < d.metrics["train_rows"]
        else pytest.fail("negative ratio")
    ),
    "seed": lambda d, c: None if c.sidecar["lightgbm_params"]["seed"] == 7 else pytest.fail(),
    "top_k": lambda d, c: (
        None if _per_customer_max(c) == 3 < _per_customer_max(d) else pytest.fail()
    ),
    "max_candidates_per_customer": lambda d, c: (
        None
        if top_k_lt(c.metrics["retrieval_per_customer"], 8)
        and d.metrics["retrieval_per_customer"] > 8
        else pytest.fail()
    ),
    "candidate_recall_warning": lambda d, c: (
        None if any("candidate recall" in n for n in c.notes) else pytest.fail()
    ),
    "partitions": lambda d, c: None if c.metrics["partitions"] == 3 else pytest.fail(),
    "rank_by": lambda d, c: _ranked_by_expected_margin(c),
    "serving": lambda d, c: _explored(c),
    "exploration_epsilon": lambda d, c: _explored(c),
    "serving_seed": lambda d, c: _explored(c),
    "explain_sample": lambda d, c: (
        None
        if c.rows("SELECT COUNT(*) FROM explanation_pairs WHERE run_date = ?", DAY.isoformat())[0][
            0
        ]
        == 100
        else pytest.fail()
    ),
    "drift_sample": lambda d, c: (
        None
        if c.metrics["drift_sample_pairs"]
        == min(1000, c.metrics["candidate_pool_size"])
        < d.metrics["drift_sample_pairs"]
        else pytest.fail()
    ),
    "eval_days": lambda d, c: None if c.metrics["eval_window_days"] == 3 else pytest.fail(),
    "eval_k": lambda d, c: None if c.metrics["k"] == 1 and d.metrics["k"] == 2 else pytest.fail(),
    "bootstrap_samples": lambda d, c: (
        None if "auc_ci_low" in d.metrics and "auc_ci_low" not in c.metrics else pytest.fail()
    ),
    "min_evaluation_positives": lambda d, c: (
        None if c.metrics["evaluation_low_confidence"] == 1 else pytest.fail()
    ),
}


def top_k_lt(n: float, ceiling: int) -> bool:
    return 3 < n <= ceiling  # at least top_k (3), at most the ceiling


def _ranked_by_expected_margin(v: View) -> None:
    rows = v.rows(
        "SELECT r.customer_id, r.rank, r.score * (p.list_price * (1 - o.discount_pct)"
        " - p.unit_cost) FROM recommendations r JOIN offers o USING (offer_id)"
        " JOIN products p ON p.product_id = o.product_id WHERE r.run_date = ?"
        " AND r.propensity = 1 ORDER BY r.customer_id, r.rank",
        DAY.isoformat(),
    )
    by: dict[int, list[float]] = {}
    for customer, _, key in rows:
        by.setdefault(customer, []).append(key)
    assert all(keys == sorted(keys, reverse=True) for keys in by.values() if len(keys) > 1)


def _explored(v: View) -> None:
    props = [
        p
        for (p,) in v.rows(
            "SELECT propensity FROM recommendations WHERE run_date = ?", DAY.isoformat()
        )
    ]
    assert props and min(props) < 1.0  # an exploring serving records inclusion < 1


@pytest.mark.parametrize("key", sorted(CHECKS))
def test_a_changed_setting_changes_the_run(key: str, runs: tuple[View, View]) -> None:
    assert key in CHANGED
    CHECKS[key](*runs)


class _Positives:
    """An engine stand-in that has 10 positives on every day: all `choose_window` reads."""

    def positives_by_day(self, window):  # type: ignore[no-untyped-def]
        import pyarrow as pa

        days = [
            window.first + timedelta(days=i) for i in range((window.last - window.first).days + 1)
        ]
        return pa.table({"shown_date": pa.array(days, pa.date32()), "positives": [10] * len(days)})


def _window(**changes: Any) -> int:
    from offerrank.training.dataset import choose_window

    split = choose_window(_Positives(), DAY, Settings(**changes))  # type: ignore[arg-type]
    return (split.validation.last - split.train.first).days + 1


def _retrain_on(day: date, tmp: Path, **changes: Any) -> str | None:
    from offerrank.pipeline.retrain import retrain_reason
    from offerrank.store.results.migrations import migrate
    from offerrank.training.registry import ActiveModel

    con = sqlite3.connect(tmp / "s.db")
    migrate(con)
    active = ActiveModel("v", None, {})  # type: ignore[arg-type]
    return retrain_reason(con, day, Settings(**changes), active)


def _lock(tmp: Path) -> None:
    import threading
    import time

    from offerrank.pipeline.lock import StoreBusy, run_lock

    db, held, release = tmp / "x.db", threading.Event(), threading.Event()

    def holder() -> None:
        with run_lock(db, 0):
            held.set()
            release.wait()

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait()
    with pytest.raises(StoreBusy), run_lock(db, 0):  # lock_timeout_s = 0: refuse at once
        pass
    threading.Timer(0.3, release.set).start()
    with run_lock(db, 60):  # a timeout: wait for the holder to finish
        pass
    thread.join()
    time.sleep(0)


def _direct_checks() -> dict[str, Callable[[Path], None]]:
    """Keys whose effect shows in one place, checked there."""
    from offerrank.engines.registry import REGISTRY
    from offerrank.monitoring.drift import FeatureDrift, dataset_drift
    from offerrank.ranking.serving import pl_inclusion, pl_logits

    def paths(tmp: Path) -> None:
        s = Settings(db_path=tmp / "a" / "x.db", history_cache=True)
        assert s.models_dir == tmp / "a" / "models" and s.cache_dir is not None
        assert Settings(db_path=tmp / "x.db", artifacts_dir=tmp / "m").models_dir == tmp / "m"
        assert Settings(history_cache=False).cache_dir is None

    def thresholds(_: Path) -> None:
        drifts = [
            FeatureDrift("a", 0.5, 0.5, 0.2, 0.25, drifted=True),
            FeatureDrift("b", 0.0, 0.0, 0.2, 0.25, drifted=False),
        ]
        assert dataset_drift(drifts, 0.3) == (True, 0.5)
        assert dataset_drift(drifts, 0.6) == (False, 0.5)
        from offerrank.monitoring.drift import feature_drift

        ref, cur = np.linspace(0, 1, 2000), np.linspace(0.3, 1.3, 2000)
        (loose,) = feature_drift(
            {"x": ref}, {"x": cur}, ["x"], psi_threshold=0.2, wasserstein_threshold=0.25
        )
        (strict,) = feature_drift(
            {"x": ref}, {"x": cur}, ["x"], psi_threshold=50, wasserstein_threshold=0.25
        )
        (wide,) = feature_drift(
            {"x": ref}, {"x": cur}, ["x"], psi_threshold=0.2, wasserstein_threshold=50
        )
        assert loose.drifted and not strict.drifted and not wide.drifted

    def temperature(_: Path) -> None:
        key = np.array([0.1, 0.2, 0.4])
        assert not np.allclose(pl_logits(key, 1.0), pl_logits(key, 0.5))

    def draws(_: Path) -> None:
        cust, logits = np.zeros(4, np.int64), np.log(np.array([0.4, 0.3, 0.2, 0.1]))
        few = pl_inclusion(cust, logits, 1, 10, np.random.default_rng(0))
        many = pl_inclusion(cust, logits, 1, 20_000, np.random.default_rng(0))
        assert np.all(np.round(few * 10) == few * 10)  # ten draws: multiples of 1/10
        assert np.allclose(many, [0.4, 0.3, 0.2, 0.1], atol=0.02)

    def windows(_: Path) -> None:
        assert _window(train_window_days=21, min_train_positives=0) == 21
        assert (
            _window(train_window_days=21, min_train_positives=300, max_train_window_days=70) == 42
        )
        assert (
            _window(train_window_days=21, min_train_positives=10**6, max_train_window_days=35) == 35
        )

    def partition_pairs(_: Path) -> None:
        from types import SimpleNamespace

        from offerrank.pipeline.steps.rank import partitions_for

        facts = SimpleNamespace(facts=SimpleNamespace(eligible_customers=1000, active_offers=50))
        for pairs, parts in ((50_000, 1), (10_000, 5), (1_000, 50)):
            run = SimpleNamespace(settings=Settings(partition_pairs=pairs))
            assert partitions_for(run, facts) == parts  # type: ignore[arg-type]

    def duckdb_memory(tmp: Path) -> None:
        from offerrank.engines.duckdb.engine import DuckDBEngine

        s = Settings(db_path=tmp / "x.db", duckdb_memory_limit="512MB")
        engine = DuckDBEngine(s)
        try:
            limit, spill = engine.con.execute(
                "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
            ).fetchall()[0]
        finally:
            engine.close()
        assert limit.startswith("488") and "MiB" in limit  # 512 MB, shown in MiB
        assert spill == str(s.cache_dir / "duckdb-spill")
        with pytest.raises(ValueError, match="duckdb_memory_limit"):
            Settings(duckdb_memory_limit="lots")

    def weekday(tmp: Path) -> None:
        assert _retrain_on(DAY, tmp, retrain_weekday=0) == "scheduled (Monday)"
        assert _retrain_on(DAY, tmp, retrain_weekday=2) is None

    def recall_target(_: Path) -> None:
        from offerrank.ranking.retrieval import size_from_ranks

        ranks = np.array([1, 2, 3, 5, 8, 13, 21, 34, 55, 0])
        sizes = {
            t: size_from_ranks(ranks, Settings(top_k=1, candidate_recall_target=t)).per_customer
            for t in (0.3, 0.6, 0.9, 0.95)
        }
        # 9 of the 10 positives are reachable: 0.95 needs 10 of them, so the ceiling
        assert sizes == {0.3: 3, 0.6: 13, 0.9: 55, 0.95: Settings().max_candidates_per_customer}

    def engine(_: Path) -> None:
        assert set(REGISTRY) == {"duckdb", "spark"}
        with pytest.raises(ValueError, match="engine"):
            Settings(engine="pandas")

    return {
        "db_path": paths,
        "artifacts_dir": paths,
        "reports_dir": lambda tmp: (
            None if Settings(reports_dir=tmp / "r").reports_dir == tmp / "r" else pytest.fail()
        ),
        "history_cache": paths,
        "engine": engine,
        "candidate_recall_target": recall_target,
        "psi_threshold": thresholds,
        "wasserstein_threshold": thresholds,
        "drift_share_threshold": thresholds,
        "exploration_temperature": temperature,
        "propensity_draws": draws,
        "partition_pairs": partition_pairs,
        "duckdb_memory_limit": duckdb_memory,
        "train_window_days": windows,
        "max_train_window_days": windows,
        "min_train_positives": windows,
        "retrain_weekday": weekday,
        "lock_timeout_s": _lock,
    }


# Keys whose effect needs a run of its own, tested in the module named.
ELSEWHERE = {
    "retrain_new_data_share": (
        "test_retrain_triggers",
        "test_enough_new_mature_impressions_retrain",
    ),
    "promotion_tolerance": (
        "test_promotion",
        "test_a_worse_retrain_is_refused_and_the_incumbent_keeps_serving",
    ),
    "scorer": ("test_grid", "test_the_scorer_setting_chooses_the_path"),
    "feature_set": (
        "test_feature_sets",
        "test_a_changed_feature_set_retrains_and_the_old_model_serves_meanwhile",
    ),
    "spark_input": ("test_spark_environment", "test_the_input_setting_wins_over_the_variable"),
    "mlflow_tracking_uri": ("test_tracking", "test_a_daily_run_logs_its_training"),
    "mlflow_experiment": ("test_tracking", "test_a_training_is_logged_registered_and_champion"),
    "mlflow_model_name": ("test_tracking", "test_set_champion_moves_the_alias_for_a_rollback"),
}


@pytest.mark.parametrize("key", sorted(_direct_checks()))
def test_a_setting_checked_where_it_acts(key: str, tmp_path: Path) -> None:
    _direct_checks()[key](tmp_path)


def test_every_setting_has_a_check() -> None:
    import importlib

    for module, name in ELSEWHERE.values():
        assert callable(getattr(importlib.import_module(module), name))
    covered = set(CHECKS) | set(_direct_checks()) | set(ELSEWHERE)
    assert set(Settings.model_fields) == covered, set(Settings.model_fields) ^ covered
