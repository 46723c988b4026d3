"""Spark reads the day-partitioned export as it reads the store: the same contract tables
(whole, and from a lookback date on, read from the days' folders only), and the same
labels, features and candidate lists through the engine."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from offerrank.config import Settings
from offerrank.store.contract import INPUT_TABLES
from offerrank.store.ingest.io import export_dir

pytestmark = pytest.mark.spark
RUN_DATE = date(2026, 2, 16)
SINCE = RUN_DATE - timedelta(days=30)

if shutil.which("java") is None:
    pytest.skip("Spark needs a Java runtime (`java` is not on PATH)", allow_module_level=True)


@pytest.fixture(scope="module")
def lake_dir(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lake") / "contract"
    export_dir(tiny_world, folder, partition_by_day=True)
    return folder


def contract_tables(spark) -> dict[str, pa.Table]:  # type: ignore[no-untyped-def]
    """Every registered contract view, sorted by all its columns."""
    out = {}
    for table in INPUT_TABLES:
        data = spark.table(table.name).toArrow()
        out[table.name] = data.sort_by([(c, "ascending") for c in data.column_names])
    return out


@pytest.mark.parametrize("since", [None, SINCE])
def test_the_partitioned_export_loads_as_the_store(
    spark, tiny_world: Path, lake_dir: Path, since: date | None
) -> None:
    from offerrank.engines.spark.tables import load_parquet, load_store

    load_store(spark, tiny_world, since=since)
    expected = contract_tables(spark)
    load_parquet(spark, lake_dir, since=since)
    got = contract_tables(spark)
    for name, table in expected.items():
        assert table.num_rows > 0, name
        assert got[name].equals(table), name
    if since is not None:
        assert pa.compute.min(got["orders"]["order_date"]).as_py() >= since


def test_days_before_the_lookback_are_never_opened(spark, lake_dir: Path, tmp_path: Path) -> None:
    """Order lines of an old day overwritten with garbage: a run from SINCE reads the
    lines all the same (their files are never opened), a run over everything cannot."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    from offerrank.engines.spark.tables import load_parquet

    lake_copy = tmp_path / "lake"
    shutil.copytree(lake_dir, lake_copy)
    days = sorted((lake_copy / "order_items").iterdir())
    old = [d for d in days if d.name.split("=")[1] < SINCE.isoformat()]
    assert len(old) > 10
    for part in old[5].iterdir():
        part.write_bytes(b"not parquet" * 100)
    load_parquet(spark, lake_copy, since=SINCE)
    expected = sum(pq.read_metadata(p).num_rows for d in days if d not in old for p in d.iterdir())
    assert spark.table("order_items").count() == expected > 0
    load_parquet(spark, lake_copy)
    with pytest.raises((Py4JJavaError, PySparkException)):
        spark.table("order_items").count()


def test_the_engine_reads_the_setting_and_answers_as_from_the_store(
    spark, tiny_world: Path, lake_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labels, features of every eligible pair of a day, and the candidate lists, with the
    input named by `spark_input` (which wins over the variable) and from the store."""
    from offerrank.engines.base import SqlQuery, Window
    from offerrank.engines.spark.engine import SparkEngine
    from offerrank.features.registry import FEATURE_COLUMNS
    from offerrank.ranking.retrieval import eligible_sql

    base = Settings(db_path=tiny_world, history_cache=False, engine="spark")
    monkeypatch.setenv("OFFERRANK_SPARK_INPUT", str(lake_dir / "nowhere"))

    def answers(settings: Settings) -> tuple[pa.Table, pa.Table, pa.Table]:
        engine = SparkEngine(settings, spark)
        engine.load(since=RUN_DATE - timedelta(days=settings.lookback_days))
        labels = engine.labelled_impressions(Window(date(2025, 1, 1), date(2027, 1, 1)))
        everyone = spark.sql("SELECT customer_id FROM customers").toArrow()
        pairs = engine.scoped_pairs(SqlQuery(eligible_sql(), {"as_of": RUN_DATE}), everyone)
        keys = [("customer_id", "ascending"), ("offer_id", "ascending")]
        pairs = pairs.sort_by(keys)
        rows = pairs.slice(0, 400).select(["customer_id", "offer_id"])
        rows = rows.append_column("as_of", pa.array([RUN_DATE] * rows.num_rows, pa.date32()))
        return labels, pairs, engine.features(rows)

    from_lake = answers(base.model_copy(update={"spark_input": str(lake_dir)}))
    monkeypatch.delenv("OFFERRANK_SPARK_INPUT")
    from_store = answers(base)
    assert from_lake[0].equals(from_store[0]) and from_store[0].num_rows > 0
    assert from_lake[1].equals(from_store[1]) and from_store[1].num_rows > 400
    a, b = from_store[2], from_lake[2]
    assert a.select(["customer_id", "offer_id", "as_of"]).equals(
        b.select(["customer_id", "offer_id", "as_of"])
    )
    for name in FEATURE_COLUMNS:
        np.testing.assert_array_equal(b[name].to_numpy(), a[name].to_numpy(), err_msg=name)
    assert pa.compute.sum(a["frequency"]).as_py() > 0


def test_two_datasets_for_one_table_are_refused(spark, lake_dir: Path, tmp_path: Path) -> None:
    from offerrank.engines.spark.tables import load_parquet
    from offerrank.errors import ContractViolation

    shutil.copytree(lake_dir, tmp_path / "both")
    shutil.copy(lake_dir / "customers.parquet", tmp_path / "both" / "orders.parquet")
    with pytest.raises(ContractViolation, match=r"orders: two datasets .*orders\.parquet"):
        load_parquet(spark, tmp_path / "both")
