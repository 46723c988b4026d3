"""Spark parity: on the tiny world, the Spark engine gives DuckDB's labels, features,
candidates and top K, from the same SQL files transpiled by sqlglot."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from offerrank.config import Settings
from offerrank.features.compute import FEATURE_COLUMNS
from offerrank.features.engine import open_engine
from offerrank.ranking.candidates import generate_candidates
from offerrank.ranking.rank import rank_within_customer, score_pairs, top_k
from offerrank.training.dataset import build_training_data

pytestmark = pytest.mark.spark
RUN_DATE = date(2026, 2, 16)

if shutil.which("java") is None:
    pytest.skip("Spark needs a Java runtime (`java` is not on PATH)", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    from offerrank.spark.session import get_spark

    session = get_spark()
    yield session
    session.stop()


@pytest.fixture(scope="module")
def engines(spark, tiny_world: Path):
    """The tiny world on both engines: DuckDB in memory, Spark temp views from the store."""
    from offerrank.spark.tables import build_labels, load_store

    con = open_engine(tiny_world)
    load_store(spark, tiny_world)
    build_labels(spark, 7)
    yield con, spark
    con.close()


@pytest.fixture(scope="module")
def tiny_settings(tiny_world: Path) -> Settings:
    return Settings(db_path=tiny_world)


def assert_same_features(duck: pa.Table, spark: pa.Table) -> None:
    assert duck.schema == spark.schema
    for name in ("customer_id", "offer_id", "as_of"):
        assert duck.column(name).equals(spark.column(name)), name
    for name in FEATURE_COLUMNS:
        np.testing.assert_allclose(
            spark.column(name).to_numpy(),
            duck.column(name).to_numpy(),
            rtol=0,
            atol=1e-9,
            err_msg=name,
        )


def test_labels_are_identical(engines) -> None:
    con, spark = engines
    duck = con.sql("SELECT impression_id, label FROM impression_labels ORDER BY 1").fetchnumpy()
    rows = spark.sql("SELECT impression_id, label FROM impression_labels ORDER BY 1").toArrow()
    assert rows.num_rows == len(duck["label"]) > 0
    np.testing.assert_array_equal(rows.column("impression_id").to_numpy(), duck["impression_id"])
    np.testing.assert_array_equal(rows.column("label").to_numpy(), duck["label"])
    assert duck["label"].sum() > 0


def test_training_set_is_identical(engines, tiny_settings: Settings) -> None:
    from offerrank.spark.training import spark_training_data

    con, spark = engines
    duck = build_training_data(con, RUN_DATE, tiny_settings)
    ours = spark_training_data(spark, RUN_DATE, tiny_settings)
    assert ours.kept_negative_rate == duck.kept_negative_rate
    for a, b in ((duck.train, ours.train), (duck.validation, ours.validation)):
        assert a.keys.equals(b.keys)
        np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_allclose(b.X, a.X, rtol=0, atol=1e-9)
    assert duck.train.positives > 0 and duck.validation.n > 0


def test_candidates_are_identical(engines, tiny_settings: Settings) -> None:
    from offerrank.spark.candidates import spark_candidates

    con, spark = engines
    duck = generate_candidates(con, RUN_DATE, tiny_settings)
    ours = spark_candidates(spark, RUN_DATE, tiny_settings).toArrow()
    assert duck.num_rows > 0
    assert ours.cast(duck.schema).equals(duck)


def test_scoring_features_scores_and_top_k_are_identical(engines, tiny_settings: Settings) -> None:
    from offerrank.spark.features import number_pairs, spark_features, typed_features
    from offerrank.spark.scoring import SCORE_COLUMN, score_frame
    from offerrank.training.train import train_models

    con, spark = engines
    model = train_models(con, RUN_DATE, tiny_settings).model
    cands = generate_candidates(con, RUN_DATE, tiny_settings)
    duck = score_pairs(con, cands, RUN_DATE, model, tiny_settings)
    query = spark.createDataFrame(cands.select(["customer_id", "offer_id"])).selectExpr(
        "customer_id", "offer_id", "DATE'2026-02-16' AS as_of"
    )
    feats = spark_features(spark, number_pairs(query))
    table = score_frame(feats, model).orderBy("customer_id", "offer_id").toArrow()
    assert_same_features(duck.features, typed_features(table))
    scores = table.column(SCORE_COLUMN).to_numpy()
    np.testing.assert_allclose(scores, duck.scores, rtol=0, atol=1e-12)
    ids = [duck.features.column(c).to_numpy() for c in ("customer_id", "offer_id")]
    k = tiny_settings.top_k
    assert (
        top_k(*ids, scores, k)
        .select(["customer_id", "offer_id", "rank"])
        .equals(top_k(*ids, duck.scores, k).select(["customer_id", "offer_id", "rank"]))
    )
    np.testing.assert_array_equal(
        rank_within_customer(*ids, scores), rank_within_customer(*ids, duck.scores)
    )


def test_the_spark_engine_runs_the_same_named_steps() -> None:
    from offerrank.pipeline.daily import STEPS, steps_for

    spark_steps = steps_for(Settings(engine="spark"))
    assert [name for name, _ in spark_steps] == [name for name, _ in STEPS]
    assert steps_for(Settings()) is STEPS
    assert spark_steps[0][1].__module__ == "offerrank.spark.steps"


def test_a_local_driver_gets_half_the_machine_and_spark_submit_decides_its_own() -> None:
    from offerrank.spark.session import session_conf

    local = session_conf("local[2]")["spark.driver.memory"]
    assert local.endswith("g") and int(local[:-1]) >= 4
    assert "spark.driver.memory" not in session_conf(None)  # under spark-submit
    assert session_conf("local[2]", {"spark.driver.memory": "2g"})["spark.driver.memory"] == "2g"


def test_unit_margins_are_identical_and_an_unknown_offer_is_refused(engines) -> None:
    from offerrank.errors import OfferrankError
    from offerrank.ranking.margin import unit_margin
    from offerrank.spark.steps import unit_margins

    con, _ = engines
    ids = con.sql("SELECT offer_id FROM offers ORDER BY offer_id DESC").fetchnumpy()["offer_id"]
    ids = np.concatenate([ids, ids[:3]])  # repeated ids keep their positions
    np.testing.assert_array_equal(unit_margins(ids), unit_margin(con, ids))
    for margins in (unit_margins, lambda x: unit_margin(con, x)):
        with pytest.raises(OfferrankError, match=r"unit margin unknown for offers \[999999\]"):
            margins(np.array([ids[0], 999_999]))
