"""Spark parity: on the tiny world, the Spark engine answers every operation of the engine
interface as the DuckDB engine does (labels, facts, features, candidates, scores, offer
attributes), from the same SQL files transpiled by sqlglot."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from engines import duckdb_engine
from offerrank.config import Settings
from offerrank.engines.base import Engine, SqlQuery, Window
from offerrank.features.registry import FEATURE_COLUMNS, constant_dates
from offerrank.ranking.retrieval import eligible_sql, popular_candidates_sql
from offerrank.training.dataset import build_training_data

pytestmark = pytest.mark.spark
RUN_DATE = date(2026, 2, 16)

if shutil.which("java") is None:
    pytest.skip("Spark needs a Java runtime (`java` is not on PATH)", allow_module_level=True)


@pytest.fixture(scope="module")
def tiny_settings(tiny_world: Path) -> Settings:
    # the 56-day window: the engines' parity does not need the widened one, which is slow
    return Settings(db_path=tiny_world, history_cache=False, min_train_positives=0)


@pytest.fixture(scope="module")
def engines(spark, tiny_world: Path, tiny_settings: Settings):
    """The tiny world on both engines, each loaded whole through the engine interface."""
    from offerrank.engines.spark.engine import SparkEngine

    duck = duckdb_engine(tiny_world)
    ours = SparkEngine(tiny_settings.model_copy(update={"engine": "spark"}), spark)
    ours.load()
    yield duck, ours
    duck.close()


def assert_same_features(duck: pa.Table, spark: pa.Table, columns=FEATURE_COLUMNS) -> None:
    assert duck.schema == spark.schema
    for name in ("customer_id", "offer_id", "as_of"):
        assert duck.column(name).equals(spark.column(name)), name
    for name in columns:
        np.testing.assert_allclose(
            spark.column(name).to_numpy(),
            duck.column(name).to_numpy(),
            rtol=0,
            atol=1e-9,
            err_msg=name,
        )


def test_labels_and_facts_are_identical(engines) -> None:
    duck, ours = engines
    window = Window(date(2025, 1, 1), date(2027, 1, 1))
    a, b = duck.labelled_impressions(window), ours.labelled_impressions(window)
    assert a.num_rows > 0 and pa.compute.sum(a.column("label")).as_py() > 0
    assert a.equals(b)
    assert duck.facts(RUN_DATE) == ours.facts(RUN_DATE)
    np.testing.assert_array_equal(duck.active_offers(RUN_DATE), ours.active_offers(RUN_DATE))


def test_training_set_is_identical(engines, tiny_settings: Settings) -> None:
    duck, ours = engines
    a = build_training_data(duck, RUN_DATE, tiny_settings)
    b = build_training_data(ours, RUN_DATE, tiny_settings)
    assert b.kept_negative_rate == a.kept_negative_rate
    for x, y in ((a.train, b.train), (a.validation, b.validation)):
        assert x.keys.equals(y.keys)
        np.testing.assert_array_equal(x.y, y.y)
        np.testing.assert_allclose(y.X, x.X, rtol=0, atol=1e-9)
    assert a.train.positives > 0 and a.validation.n > 0


def test_the_history_features_are_identical(engines, tiny_settings: Settings) -> None:
    """The coupon-history extras on a week of impressions (many as_of dates), and for an
    unknown customer and offer."""
    from offerrank.features.registry import FEATURE_SETS
    from offerrank.training.dataset import training_split

    duck, ours = engines
    history = FEATURE_SETS["history"]
    week = training_split(RUN_DATE, tiny_settings).validation
    rows = duck.labelled_impressions(week).select(["customer_id", "offer_id", "as_of"])
    unknown = pa.table(
        {"customer_id": [999_999], "offer_id": [999_999], "as_of": constant_dates(RUN_DATE, 1)}
    )
    rows = pa.concat_tables([rows, unknown.cast(rows.schema)])
    a, b = duck.features(rows, history), ours.features(rows, history)
    assert rows.num_rows > 100 and a.column("customer_redemptions").to_numpy().sum() > 0
    assert_same_features(a, b, history.columns)


def test_scoped_eligible_pairs_are_identical(engines, tiny_settings: Settings) -> None:
    duck, ours = engines
    everyone = duck.con.sql("SELECT customer_id FROM customers").to_arrow_table()
    for query in (
        SqlQuery(eligible_sql(), {"as_of": RUN_DATE}),
        SqlQuery(
            popular_candidates_sql(),
            {"as_of": RUN_DATE, "window_start": RUN_DATE - timedelta(days=90)},
        ),
    ):
        a, b = duck.scoped_pairs(query, everyone), ours.scoped_pairs(query, everyone)
        keys = [("customer_id", "ascending"), ("offer_id", "ascending")]
        assert a.num_rows > 0
        assert b.cast(a.schema).sort_by(keys).equals(a.sort_by(keys))


@pytest.fixture
def run_defaults(spark):  # type: ignore[no-untyped-def]
    """The session with a run's own SQL settings (`session.DEFAULTS`: adaptive execution,
    two shuffle partitions) instead of the test session's, put back after."""
    from offerrank.engines.spark.session import DEFAULTS

    keys = ("spark.sql.shuffle.partitions", "spark.sql.adaptive.enabled")
    before = {key: spark.conf.get(key) for key in keys}
    for key in keys:
        spark.conf.set(key, DEFAULTS[key])
    yield
    for key, value in before.items():
        spark.conf.set(key, value)


def test_retrieval_pool_scores_and_lists_are_identical(
    engines, tiny_settings: Settings, run_defaults
) -> None:
    """The first stage's ranks, the pool and everything `rank_partition` returns for it
    (served lists, samples) are the same on both engines, whatever their partitions, with
    the SQL settings a run has."""
    from offerrank.ranking import samples
    from offerrank.ranking.partition import RankJob, partition_stats, rank_partition
    from offerrank.ranking.retrieval import first_stage_of, positives_of, retrieval_query
    from offerrank.training.train import train_models

    duck, ours = engines
    result = train_models(duck, RUN_DATE, tiny_settings)
    lr = result.logistic
    stage = first_stage_of(lr.mean, lr.scale, lr.coef, lr.intercept)
    positives = positives_of(duck, result.data.split.validation)
    assert positives.num_rows > 0
    np.testing.assert_array_equal(
        ours.retrieval_ranks(positives, eligible_sql(), stage),
        duck.retrieval_ranks(positives, eligible_sql(), stage),
    )
    active = duck.active_offers(RUN_DATE)
    facts = duck.offer_facts(active)
    margins = facts.column("unit_margin").to_numpy()
    targeted = active[facts.column("targeted").to_numpy(zero_copy_only=False)]
    job = RankJob(
        result.model, tiny_settings, RUN_DATE, samples.SampleSizes(200, 50, 500, 10),
        active, margins, targeted,
    )  # fmt: skip
    retrieval = retrieval_query(RUN_DATE, stage, 8)

    def lists_and_samples(engine, parts: int):  # type: ignore[no-untyped-def]
        """The served rows, the pool size and the selected samples, as the rank step
        merges them from the partitions."""
        kept: dict[str, list] = {k: [] for k in samples.SAMPLE_KINDS}
        recs, pool = [], 0
        for out in engine.pool_partitions(retrieval, parts, partial(rank_partition, job=job)):
            kind = out.column("kind")
            recs.append(out.filter(pa.compute.equal(kind, "rec")))
            pool += partition_stats(out).pairs
            for k in samples.SAMPLE_KINDS:
                found = out.filter(pa.compute.equal(kind, k))
                kept[k] = [samples.bounded([*kept[k], found], k, job.sizes)]
        chosen = samples.select({k: v[0] for k, v in kept.items()}, job.sizes)
        keys = [("customer_id", "ascending"), ("offer_id", "ascending")]
        return (
            pa.concat_tables(recs).sort_by(keys),
            pool,
            {
                "explain": chosen.explain.sort_by(keys),
                "importance": chosen.importance.sort_by(keys),
                "drift": chosen.drift.sort_by(keys),
            },
        )

    recs, pool, chosen = lists_and_samples(duck, 1)
    assert pool > 0 and recs.num_rows == 8 * len(pa.compute.unique(recs.column("customer_id")))
    # Spark with several partitions against DuckDB with one: parity and partitioning at once
    for engine, parts in ((duck, 3), (ours, 3)):
        other_recs, other_pool, other_chosen = lists_and_samples(engine, parts)
        assert other_pool == pool
        cols = ["customer_id", "offer_id", "rank", "propensity"]
        assert other_recs.select(cols).equals(recs.select(cols)), (engine.name, parts)
        np.testing.assert_allclose(other_recs["score"], recs["score"], rtol=0, atol=1e-12)
        for kind, table in chosen.items():
            assert (
                other_chosen[kind]
                .select(["customer_id", "offer_id", "rank"])
                .equals(table.select(["customer_id", "offer_id", "rank"]))
            ), (engine.name, parts, kind)


def test_an_extra_feature_is_one_sql_file_and_runs_on_both_engines(
    engines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A throwaway feature in a temporary package of SQL, registered in one line: both
    engines compute it, equally, with no engine code of its own."""
    from feature_package import extra_feature_set, write_package

    write_package(tmp_path, monkeypatch)
    features = extra_feature_set()
    duck, ours = engines
    rows = pa.table(
        {
            "customer_id": pa.array([1, 2, 3, 1, 999_999], pa.int64()),
            "offer_id": duck.active_offers(RUN_DATE)[:5],
            "as_of": constant_dates(RUN_DATE, 5),
        }
    )
    a, b = duck.features(rows, features), ours.features(rows, features)
    assert a.column_names[-1] == "offers_seen_before"
    assert_same_features(a, b, features.columns)
    assert a.column("offers_seen_before").to_pylist()[-1] == 0.0  # an unknown customer


def test_the_registry_opens_each_engine_by_name(tiny_settings: Settings) -> None:
    from offerrank.engines.registry import REGISTRY, open_engine

    for name in REGISTRY:
        engine: Engine = open_engine(tiny_settings.model_copy(update={"engine": name}))
        assert engine.name == name
        engine.close()


def test_a_local_driver_gets_half_the_machine_and_spark_submit_decides_its_own() -> None:
    from offerrank.engines.spark.session import session_conf

    local = session_conf("local[2]")["spark.driver.memory"]
    assert local.endswith("g") and int(local[:-1]) >= 4
    assert "spark.driver.memory" not in session_conf(None)  # under spark-submit
    assert session_conf("local[2]", {"spark.driver.memory": "2g"})["spark.driver.memory"] == "2g"


def test_offer_facts_are_identical_and_an_unknown_offer_is_refused(engines) -> None:
    from offerrank.errors import OfferrankError
    from offerrank.ranking.margin import unit_margins

    duck, ours = engines
    ids = duck.con.sql("SELECT offer_id FROM offers ORDER BY offer_id DESC").fetchnumpy()
    ids = np.concatenate([ids["offer_id"], ids["offer_id"][:3]])  # repeats keep their place
    assert duck.offer_facts(ids).equals(ours.offer_facts(ids))
    np.testing.assert_array_equal(unit_margins(ours, ids), unit_margins(duck, ids))
    for engine in (duck, ours):
        with pytest.raises(OfferrankError, match=r"unit margin unknown for offers \[999999\]"):
            unit_margins(engine, np.array([ids[0], 999_999]))


def test_both_spark_scorers_give_duckdbs_pool_with_the_history_features(
    engines, tiny_settings: Settings
) -> None:
    """The grid on the executors and the SQL pool, on Spark, keep the pairs DuckDB's grid
    keeps, with the same ranks, first-stage scores and features (the customer- and
    offer-grain extras included), whatever the partitions."""
    from offerrank.engines.base import FirstStage
    from offerrank.engines.spark.engine import SparkEngine
    from offerrank.features.registry import CONTRACT_FEATURES, FEATURE_SETS
    from offerrank.ranking.retrieval import retrieval_query

    def the_pool(pool: pa.Table) -> pa.Table:
        """A `process` that returns the pool it is given (local: Spark ships it by value,
        its workers cannot import this module)."""
        return pool

    duck, ours = engines
    history = FEATURE_SETS["history"]
    weights = tuple(np.linspace(-1.0, 1.0, len(CONTRACT_FEATURES)))
    retrieval = retrieval_query(RUN_DATE, FirstStage(weights, 0.25), 5, history)
    keys = [("customer_id", "ascending"), ("offer_id", "ascending")]
    expected = pa.concat_tables(duck.pool_partitions(retrieval, 1, the_pool)).sort_by(keys)
    assert expected.num_rows > 0 and expected.column("customer_redemptions").to_numpy().sum() > 0
    sql = SparkEngine(ours.settings.model_copy(update={"scorer": "sql"}), ours.spark)
    for engine, parts in ((ours, 3), (sql, 2)):
        found = pa.concat_tables(engine.pool_partitions(retrieval, parts, the_pool))
        found = found.cast(expected.schema).sort_by(keys)
        for name in ("customer_id", "offer_id", "as_of", "retrieval_rank"):
            assert found.column(name).equals(expected.column(name)), (engine.settings.scorer, name)
        for name in ("first_stage", *history.columns):
            np.testing.assert_allclose(
                found.column(name).to_numpy(),
                expected.column(name).to_numpy(),
                rtol=0,
                atol=1e-9,
                err_msg=f"{engine.settings.scorer}: {name}",
            )
