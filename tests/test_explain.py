"""Explanations: exact log-odds decompositions, a stratified sample, and `explain`/`status`."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import offerrank.cli.inspect  # noqa: F401  (registers status, explain, report)
from explained_run import DAYS, copy_world
from offerrank.cli.main import app
from offerrank.monitoring.explain import contributions
from offerrank.monitoring.explain_pair import explain_pair
from offerrank.pipeline.daily import run_daily
from offerrank.pipeline.status import recent_runs
from offerrank.ranking import samples
from offerrank.ranking.rank import rank_within_customer
from offerrank.training.models import LightGBMModel, fit_logistic, predict_proba, sigmoid

DAY = DAYS[1]


@pytest.fixture(scope="module")
def world(two_day_run) -> Path:
    """The folder of the session's two-day run (store, models); copy before writing."""
    return two_day_run[0].db_path.parent


def _xy(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (rng.random(n) < sigmoid(X[:, 0] - 0.5 * X[:, 1] * X[:, 2] - 2.0)).astype(int)
    return X, y


def _small_lightgbm(X: np.ndarray, y: np.ndarray) -> LightGBMModel:
    params = {"objective": "binary", "num_leaves": 8, "verbose": -1, "num_threads": 1, "seed": 1}
    return LightGBMModel(lgb.train(params, lgb.Dataset(X, y), num_boost_round=30))


@pytest.mark.parametrize("kind", ["logistic_regression", "lightgbm"])
def test_contributions_sum_to_the_models_log_odds(kind: str) -> None:
    X, y = _xy()
    model = fit_logistic(X, y, seed=1) if kind == "logistic_regression" else _small_lightgbm(X, y)
    model.log_odds_shift = -0.7
    c = contributions(model, X[:200])
    assert c.per_feature.shape == (200, 5)
    np.testing.assert_allclose(c.log_odds, model.raw_log_odds(X[:200]) - 0.7, atol=1e-9)
    np.testing.assert_allclose(sigmoid(c.log_odds), predict_proba(model, X[:200]), atol=1e-12)


def test_logistic_contribution_is_coefficient_times_standardised_value() -> None:
    X, y = _xy()
    model = fit_logistic(X, y, seed=1)
    c = contributions(model, X[:3])
    expected = (X[:3, 2] - model.mean[2]) / model.scale[2] * model.coef[2]
    np.testing.assert_allclose(c.per_feature[:, 2], expected)


def test_rank_within_customer_matches_hand_computed_order() -> None:
    cust = np.array([2, 1, 2, 1, 2])
    offer = np.array([10, 11, 12, 13, 14])
    score = np.array([0.5, 0.1, 0.9, 0.3, 0.5])
    # customer 2: 12 (0.9), then 10 and 14 tie at 0.5 (lower offer first); customer 1: 13, 11
    assert rank_within_customer(cust, offer, score).tolist() == [2, 2, 1, 1, 3]


def _sample(cust, offer, rank, sizes, parts: int, seed: int = 5):  # type: ignore[no-untyped-def]
    """Candidates drawn per partition of customers, merged and selected as a run does."""
    kept: dict[str, list] = {k: [] for k in samples.SAMPLE_KINDS}
    for p in range(parts):
        rows = np.flatnonzero(cust % parts == p)
        table = pa.table({"customer_id": cust[rows], "offer_id": offer[rows], "rank": rank[rows]})
        for kind, (idx, keys) in samples.partition_draws(
            cust[rows], offer[rows], rank[rows], sizes, seed
        ).items():
            found = table.take(pa.array(idx)).append_column("sample_key", pa.array(keys))
            kept[kind] = [samples.bounded([*kept[kind], found], kind, sizes)]
    return samples.select({k: v[0] for k, v in kept.items()}, sizes)


def _pairs(table: pa.Table) -> list[tuple[int, int]]:
    return sorted(
        zip(*(table.column(c).to_pylist() for c in ("customer_id", "offer_id")), strict=True)
    )


def test_sample_holds_every_top_pair_of_its_customers_whatever_the_partitions() -> None:
    rng = np.random.default_rng(3)
    cust = np.repeat(np.arange(500), 30)
    offer = np.tile(np.arange(30), 500)
    rank = rank_within_customer(cust, offer, rng.random(cust.size))
    sizes = samples.SampleSizes(explain=400, importance=50, drift=300, top_k=5)
    one = _sample(cust, offer, rank, sizes, 1)
    top = one.explain.filter(one.explain_top)
    assert one.explain.num_rows == 400 and len(set(_pairs(one.explain))) == 400
    assert 0 < top.num_rows <= 200 and max(top.column("rank").to_pylist()) <= 5
    chosen = set(top.column("customer_id").to_pylist())
    assert top.num_rows == 5 * len(chosen)  # all five top pairs of every chosen customer
    for parts in (2, 3, 7):
        other = _sample(cust, offer, rank, sizes, parts)
        for kind in ("explain", "importance", "drift"):
            assert _pairs(getattr(other, kind)) == _pairs(getattr(one, kind)), (parts, kind)


@settings(max_examples=60, deadline=None)
@given(
    customers=st.lists(st.integers(0, 30), min_size=0, max_size=300),
    top_k=st.integers(1, 5),
    size=st.integers(0, 120),
    seed=st.integers(0, 10),
    parts=st.integers(1, 4),
)
def test_sample_invariants(
    customers: list[int], top_k: int, size: int, seed: int, parts: int
) -> None:
    cust = np.array(customers, dtype=np.int64)
    offer = np.arange(cust.size, dtype=np.int64)
    rank = rank_within_customer(cust, offer, np.random.default_rng(seed).random(cust.size))
    sizes = samples.SampleSizes(explain=size, importance=10, drift=20, top_k=top_k)
    found = _sample(cust, offer, rank, sizes, parts, seed)
    explain = found.explain
    assert explain.num_rows == min(size, cust.size) == len(set(_pairs(explain)))
    top = explain.filter(found.explain_top)
    assert top.num_rows <= size // 2 and all(r <= top_k for r in top.column("rank").to_pylist())
    for c in set(top.column("customer_id").to_pylist()):  # a chosen customer's tops are all there
        assert top.column("customer_id").to_pylist().count(c) == np.count_nonzero(
            (cust == c) & (rank <= top_k)
        )
    assert found.drift.num_rows == min(20, cust.size)


def test_run_persists_a_sample_with_top_ranked_pairs(world: Path) -> None:
    con = sqlite3.connect(world / "metro.db")
    rows = con.execute(
        "SELECT stratum, COUNT(*), MIN(rank), MAX(rank), MIN(units), COUNT(DISTINCT model_version)"
        " FROM explanation_pairs WHERE run_date = ? GROUP BY stratum",
        (DAY.isoformat(),),
    ).fetchall()
    by = {r[0]: r for r in rows}
    assert by["top"][1] + by["random"][1] == 2000
    assert by["top"][2] == 1 and by["top"][3] == 10 and by["top"][4] == "log-odds"
    # stored contributions plus the bias give back the stored score
    bad = con.execute(
        """SELECT COUNT(*) FROM explanation_pairs p JOIN (
               SELECT customer_id, offer_id, SUM(contribution) AS s FROM explanation_contributions
               WHERE run_date = ? GROUP BY customer_id, offer_id) c USING (customer_id, offer_id)
           WHERE p.run_date = ? AND ABS(c.s + p.bias - p.log_odds) > 1e-9""",
        (DAY.isoformat(), DAY.isoformat()),
    ).fetchone()[0]
    assert bad == 0
    top_recs = con.execute(
        "SELECT COUNT(*) FROM explanation_pairs p JOIN recommendations r USING"
        " (run_date, customer_id, offer_id) WHERE p.run_date = ? AND p.rank = r.rank"
        " AND ABS(p.score - r.score) < 1e-12 AND p.stratum = 'top'",
        (DAY.isoformat(),),
    ).fetchone()[0]
    assert top_recs == by["top"][1]
    importance = con.execute(
        "SELECT COUNT(*), MAX(mean_abs_contribution) FROM feature_importance WHERE run_date = ?",
        (DAY.isoformat(),),
    ).fetchone()
    assert importance[0] == 22 and importance[1] > 0  # the model uses at least one feature


def test_rerun_replaces_the_dates_rows(world: Path, tmp_path: Path) -> None:
    settings = copy_world(world, tmp_path)
    db = settings.db_path
    query = "SELECT COUNT(*) FROM explanation_contributions WHERE run_date = ?"
    before = sqlite3.connect(db).execute(query, (DAY.isoformat(),)).fetchone()[0]
    assert run_daily(settings, DAY).ok
    con = sqlite3.connect(db)
    assert con.execute(query, (DAY.isoformat(),)).fetchone()[0] == before == 2000 * 22
    assert (
        con.execute(
            "SELECT COUNT(*) FROM feature_importance WHERE run_date = ?", (DAY.isoformat(),)
        ).fetchone()[0]
        == 22
    )


def test_explain_an_unsampled_pair_on_demand_matches_the_run(world: Path, tmp_path: Path) -> None:
    settings = copy_world(world, tmp_path)
    con = sqlite3.connect(settings.db_path)
    customer, offer, rank, score = con.execute(
        "SELECT customer_id, offer_id, rank, score FROM recommendations WHERE run_date = ?"
        " AND customer_id NOT IN (SELECT customer_id FROM explanation_pairs WHERE run_date = ?)"
        " AND rank = 3 LIMIT 1",
        (DAY.isoformat(), DAY.isoformat()),
    ).fetchone()
    e = explain_pair(settings, DAY, customer, offer)
    assert not e.sampled and e.rank == rank
    assert e.score == pytest.approx(score, abs=1e-9)
    assert sum(f["contribution"] for f in e.features) + e.bias == pytest.approx(e.log_odds)
    sizes = [abs(f["contribution"]) for f in e.features]
    assert sizes == sorted(sizes, reverse=True)
    assert e.versus is not None and e.versus["relation"] == "next-ranked"
    nxt = e.versus["offer_id"]
    assert nxt == next(t["offer_id"] for t in e.top if t["rank"] == rank + 1)
    diff = sum(d["contribution_difference"] for d in e.versus["differences"])
    assert diff == pytest.approx(e.versus["log_odds_difference"]) and diff >= 0


def test_cli_explain_and_status(world: Path, tmp_path: Path) -> None:
    settings = copy_world(world, tmp_path)
    db = str(settings.db_path)
    customer = (
        sqlite3.connect(db)
        .execute(
            "SELECT customer_id FROM explanation_pairs WHERE run_date = ? AND rank = 1 LIMIT 1",
            (DAY.isoformat(),),
        )
        .fetchone()[0]
    )
    runner = CliRunner()
    out = runner.invoke(
        app,
        ["--db", db, "--json", "explain", "--date", DAY.isoformat(), "--customer", str(customer)],
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["rank"] == 1 and payload["sampled"] and payload["units"] == "log-odds"
    assert len(payload["features"]) == 22 and payload["versus"]["relation"] == "next-ranked"
    human = runner.invoke(
        app, ["--db", db, "explain", "--date", DAY.isoformat(), "--customer", str(customer)],
        env={"COLUMNS": "160"},
    )  # fmt: skip
    assert human.exit_code == 0 and "contributions, largest first" in human.output
    missing = runner.invoke(
        app, ["--db", db, "explain", "--date", "2025-01-01", "--customer", str(customer)]
    )
    assert missing.exit_code == 1
    status = runner.invoke(app, ["--db", db, "--json", "status"])
    runs = json.loads(status.output)["runs"]
    dates = [r["run_date"] for r in runs]
    assert dates[0] == DAY.isoformat() and DAYS[0].isoformat() in dates
    assert "explain" in [s["step"] for s in runs[0]["steps"]]


def test_status_lists_failed_runs_first(world: Path, tmp_path: Path) -> None:
    settings = copy_world(world, tmp_path)
    con = sqlite3.connect(settings.db_path)
    con.execute(
        "UPDATE pipeline_runs SET status = 'failed', detail = 'RunError: boom' WHERE rowid ="
        " (SELECT MIN(rowid) FROM pipeline_runs WHERE step = 'rank')"
    )
    con.commit()
    runs = recent_runs(settings, last=5)
    assert runs[0].status == "failed" and runs[0].run_date == DAYS[0].isoformat()
    assert runs[1:] and all(r.status == "success" for r in runs[1:])
    only = recent_runs(settings, last=5, run_date=date(2026, 2, 17))
    assert only and {r.run_date for r in only} == {"2026-02-17"}
    human = CliRunner().invoke(app, ["--db", str(settings.db_path), "status"])
    assert human.exit_code == 0 and human.output.index("failed") < human.output.index("2026-02-17")
