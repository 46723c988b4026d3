"""Retrieval: the first stage ranks every eligible pair as its weights say, the pool keeps
each customer's best, the size is measured on recall, and recall is reused by the next run."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from engines import duckdb_engine
from offerrank.config import Settings
from offerrank.engines.base import FirstStage, SqlQuery, Window
from offerrank.features.registry import FEATURE_COLUMNS, constant_dates, feature_matrix
from offerrank.ranking import retrieval
from offerrank.ranking.retrieval import (
    candidate_recall,
    eligible_sql,
    retrieval_query,
    rules_key,
    size_from_ranks,
)

FIRST, LAST = date(2026, 2, 1), date(2026, 2, 7)
DAY = date(2026, 2, 16)
# A first stage that favours the category and the product a customer buys, and discounts.
STAGE = FirstStage(
    tuple(
        {"category_affinity_score": 3.0, "bought_product_before": 1.0, "discount_depth": 2.0}.get(
            name, 0.0
        )
        for name in FEATURE_COLUMNS
    ),
    -4.0,
)


def _eligible(engine, day: date, customers: list[int]) -> pa.Table:
    scope = pa.table({"customer_id": pa.array(customers, pa.int64())})
    pairs = engine.scoped_pairs(SqlQuery(eligible_sql(), {"as_of": day}), scope)
    return pairs.append_column("as_of", constant_dates(day, pairs.num_rows))


def _by_numpy(engine, pairs: pa.Table) -> np.ndarray:
    """The first stage's rank of each pair among its customer's, computed in numpy."""
    X = feature_matrix(engine.features(pairs))
    score = STAGE.bias + X @ np.array(STAGE.weights)
    cust = pairs.column("customer_id").to_numpy()
    offer = pairs.column("offer_id").to_numpy()
    order = np.lexsort((offer, -score, cust))
    rank = np.empty(cust.size, dtype=np.int64)
    starts = np.r_[True, cust[order][1:] != cust[order][:-1]]
    rank[order] = (
        np.arange(cust.size) - np.maximum.accumulate(np.where(starts, np.arange(cust.size), 0)) + 1
    )
    return rank


def test_first_stage_ranks_are_those_of_its_weights_on_the_features(tiny_world: Path) -> None:
    engine = duckdb_engine(tiny_world)
    customers = [1, 2, 3, 50, 51, 399]
    pairs = _eligible(engine, DAY, customers)
    assert pairs.num_rows > 100
    ranks = engine.retrieval_ranks(pairs, eligible_sql(), STAGE)
    assert ranks.tolist() == _by_numpy(engine, pairs).tolist()
    not_eligible = pa.table(
        {"customer_id": [1], "offer_id": [999_999], "as_of": constant_dates(DAY, 1)}
    )
    assert engine.retrieval_ranks(not_eligible, eligible_sql(), STAGE).tolist() == [0]


def test_the_pool_keeps_each_customers_best_eligible_pairs(tiny_world: Path) -> None:
    engine = duckdb_engine(tiny_world)
    kept = pa.concat_tables(
        engine.pool_partitions(retrieval_query(DAY, STAGE, 5), 2, lambda pool: pool)
    )
    cust = kept.column("customer_id").to_numpy()
    assert kept.column("retrieval_rank").to_numpy().max() <= 5
    assert np.bincount(cust).max() == 5
    sample = [int(c) for c in np.unique(cust)[:20]]
    pairs = _eligible(engine, DAY, sample)
    best = pairs.filter(pa.array(_by_numpy(engine, pairs) <= 5))
    ours = kept.filter(pa.compute.is_in(kept.column("customer_id"), pa.array(sample)))
    keys = ["customer_id", "offer_id"]
    assert sorted(best.select(keys).to_pylist(), key=str) == sorted(
        ours.select(keys).to_pylist(), key=str
    )
    features = ours.select(list(FEATURE_COLUMNS))
    assert features.num_rows and all(c.null_count == 0 for c in features.columns)


def test_eligible_pairs_follow_the_rules(tiny_world: Path) -> None:
    engine = duckdb_engine(tiny_world)
    everyone = engine.con.sql("SELECT customer_id FROM customers").to_arrow_table()
    pairs = engine.scoped_pairs(SqlQuery(eligible_sql(), {"as_of": DAY}), everyone)
    engine.con.register("pairs", pairs)
    broken = engine.con.sql(
        """
        SELECT
          SUM(CASE WHEN NOT (o.start_date <= $d AND o.end_date >= $d) THEN 1 ELSE 0 END),
          SUM(CASE WHEN o.target_business_type IS NOT NULL
                    AND o.target_business_type <> c.business_type THEN 1 ELSE 0 END),
          SUM(CASE WHEN EXISTS (SELECT 1 FROM redemptions r WHERE r.customer_id = k.customer_id
                    AND r.offer_id = k.offer_id AND r.redeemed_date < $d) THEN 1 ELSE 0 END),
          SUM(CASE WHEN c.signup_date > $d THEN 1 ELSE 0 END),
          COUNT(*) - COUNT(DISTINCT (k.customer_id, k.offer_id))
        FROM pairs k JOIN offers o USING (offer_id) JOIN customers c USING (customer_id)
        """,
        params={"d": DAY},
    ).fetchall()[0]
    assert pairs.num_rows > 0 and broken == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("day", [DAY, date(2025, 11, 20)])
def test_eligible_pairs_are_every_pair_the_rules_allow(tiny_world: Path, day: date) -> None:
    """Exactly the reference set, built pair by pair from the rules in Python."""
    engine = duckdb_engine(tiny_world)
    tables = {
        t: engine.con.sql(f"SELECT * FROM {t}").to_arrow_table().to_pylist()
        for t in ("customers", "offers", "redemptions")
    }
    everyone = pa.table({"customer_id": [c["customer_id"] for c in tables["customers"]]})
    got = engine.scoped_pairs(SqlQuery(eligible_sql(), {"as_of": day}), everyone)
    redeemed = {
        (r["customer_id"], r["offer_id"]) for r in tables["redemptions"] if r["redeemed_date"] < day
    }
    expected = {
        (c["customer_id"], o["offer_id"])
        for c in tables["customers"]
        if c["signup_date"] is None or c["signup_date"] <= day
        for o in tables["offers"]
        if o["start_date"] <= day <= o["end_date"]
        and o["target_business_type"] in (None, c["business_type"])
        and (c["customer_id"], o["offer_id"]) not in redeemed
    }
    pairs = list(zip(got["customer_id"].to_pylist(), got["offer_id"].to_pylist(), strict=True))
    assert len(pairs) == len(set(pairs)) and set(pairs) == expected and expected


def test_size_is_the_smallest_that_keeps_the_target() -> None:
    s = Settings(top_k=2, candidate_recall_target=0.75, max_candidates_per_customer=50)
    # 8 positives: ranks 1, 1, 2, 3, 5, 9, 40 and one never eligible (0).
    ranks = np.array([1, 1, 2, 3, 5, 9, 40, 0])
    sizing = size_from_ranks(ranks, s)
    assert sizing.per_customer == 9  # 6 of 8 = 0.75 fall within 9
    assert sizing.recall == pytest.approx(6 / 8) and sizing.positives == 8
    low = size_from_ranks(ranks, s.model_copy(update={"candidate_recall_target": 0.2}))
    assert low.per_customer == 2  # never below top_k
    ceiling = size_from_ranks(ranks, s.model_copy(update={"candidate_recall_target": 0.99}))
    assert ceiling.per_customer == 50 and ceiling.recall == pytest.approx(7 / 8)
    assert size_from_ranks(np.zeros(0, np.int64), s).recall is None


def test_recall_counts_the_positives_within_the_size(tiny_world: Path) -> None:
    engine = duckdb_engine(tiny_world)
    recall, positives, days = candidate_recall(engine, Window(FIRST, LAST), STAGE, 5)
    ranks = retrieval.positives_of(engine, Window(FIRST, LAST))
    found = engine.retrieval_ranks(ranks, eligible_sql(), STAGE)
    assert positives == ranks.num_rows > 0
    assert recall == pytest.approx(np.mean((found > 0) & (found <= 5)))
    assert sum(d.positives for d in days) == positives
    assert [d.shown_date for d in days] == sorted(d.shown_date for d in days)


def test_known_days_are_reused_and_changed_days_measured_again(
    tiny_world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = duckdb_engine(tiny_world)
    window = Window(FIRST, LAST)
    recall, positives, days = candidate_recall(engine, window, STAGE, 5)
    asked: list[set[date]] = []
    real = type(engine).retrieval_ranks

    def counting(self, pairs, sql, stage):  # type: ignore[no-untyped-def]
        asked.append(set(pairs.column("as_of").to_pylist()))
        return real(self, pairs, sql, stage)

    monkeypatch.setattr(type(engine), "retrieval_ranks", counting)
    known = {d.shown_date: d for d in days}
    assert candidate_recall(engine, window, STAGE, 5, known) == (recall, positives, days)
    assert asked == []
    # A day whose positives changed (late labels, a reimport) is measured again.
    stale = dataclasses.replace(days[0], positives=days[0].positives + 1, hits=0)
    again = candidate_recall(engine, window, STAGE, 5, {**known, stale.shown_date: stale})
    assert asked == [{days[0].shown_date}]
    assert again == (recall, positives, days)


def test_rules_key_changes_with_everything_recall_depends_on(tmp_path: Path) -> None:
    base = Settings(db_path=tmp_path / "x.db")
    keys = {rules_key(STAGE, 5, base), rules_key(STAGE, 6, base)}
    keys.add(rules_key(dataclasses.replace(STAGE, bias=-3.0), 5, base))
    for name, value in [("lookback_days", 60), ("label_window_days", 3)]:
        keys.add(rules_key(STAGE, 5, base.model_copy(update={name: value})))
    assert len(keys) == 5
    assert rules_key(STAGE, 5, base) == rules_key(STAGE, 5, Settings(db_path=tmp_path / "y.db"))


def test_consecutive_runs_share_their_stored_days(two_day_run) -> None:
    s, first, second = two_day_run
    with sqlite3.connect(s.db_path) as con:
        rows = con.execute(
            "SELECT shown_date FROM candidate_recall_days ORDER BY shown_date"
        ).fetchall()
    days = [date.fromisoformat(r[0]) for r in rows]
    # The two runs' windows overlap in all but one day: one more stored day, not seven.
    assert len(days) == len(set(days)) == s.eval_days + 1
    assert first.metrics["candidate_recall"] > 0 and second.metrics["candidate_recall"] > 0
    assert second.metrics["candidate_recall"] >= s.candidate_recall_warning


def test_an_import_forgets_every_measured_day(world_db: Path, tmp_path: Path) -> None:
    from offerrank.store.db import connect, transaction
    from offerrank.store.ingest.io import export_dir, import_dir
    from offerrank.store.results.migrations import migrate

    con = connect(world_db)
    migrate(con)
    with transaction(con):
        con.execute("INSERT INTO candidate_recall_days VALUES ('2026-02-01', 'k', 10, 7)")
    con.close()
    export_dir(world_db, tmp_path / "export")
    import_dir(world_db, tmp_path / "export")  # nothing new, still a possible backfill
    with sqlite3.connect(world_db) as check:
        assert check.execute("SELECT COUNT(*) FROM candidate_recall_days").fetchone()[0] == 0


def test_a_run_below_the_recall_warning_says_so(settings: Settings) -> None:
    from offerrank.pipeline.daily import run_daily

    low = settings.model_copy(
        update={"max_candidates_per_customer": 1, "top_k": 1, "candidate_recall_warning": 0.99}
    )
    result = run_daily(low, DAY)
    assert result.ok
    assert any("candidate recall" in n and "below 0.99" in n for n in result.notes)
    assert result.metrics["retrieval_per_customer"] == 1
