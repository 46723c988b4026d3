"""Shared fixtures: a tiny generated world, built once per session and copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from offerrank.config import Settings

# No test may depend on the machine's speed: property tests run without a deadline (a
# loaded CI machine once took 295 ms for an example with the default 200 ms deadline).
hypothesis_settings.register_profile("offerrank", deadline=None)
hypothesis_settings.load_profile("offerrank")


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only tiny synthetic store; copy it (`world_db`) before writing."""
    from offerrank.world.generate import generate_world

    path = tmp_path_factory.mktemp("world") / "tiny.db"
    generate_world(path, preset="tiny", seed=7)
    return path


@pytest.fixture
def world_db(tiny_world: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "metro.db"
    shutil.copy(tiny_world, dst)
    return dst


@pytest.fixture
def settings(world_db: Path, tmp_path: Path) -> Settings:
    """A run on a copy of the tiny world. Trainings keep the 56-day window (the default
    widens it to the whole tiny history, which the settings tests check): the suite
    stays quick."""
    return Settings(
        db_path=world_db,
        artifacts_dir=tmp_path / "models",
        bootstrap_samples=20,
        reports_dir=tmp_path / "reports",
        min_train_positives=0,
    )


@pytest.fixture(scope="session")
def two_day_run(tmp_path_factory: pytest.TempPathFactory, tiny_world: Path):
    """The seed's repro: daily runs for 2026-02-16 (a Monday: retrain) and 2026-02-17."""
    from datetime import date

    from offerrank.pipeline.daily import run_daily

    folder = tmp_path_factory.mktemp("run")
    db = folder / "metro.db"
    shutil.copy(tiny_world, db)
    s = Settings(
        db_path=db,
        artifacts_dir=folder / "models",
        bootstrap_samples=20,
        reports_dir=folder / "reports",
        min_train_positives=0,  # as `settings`: tests compare their runs with these
    )
    first = run_daily(s, date(2026, 2, 16))
    second = run_daily(s, date(2026, 2, 17))
    return s, first, second


@pytest.fixture(scope="session")
def spark():
    """The one Spark session of the test run, shared by every module that needs one."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime (`java` is not on PATH)")
    from offerrank.engines.spark.session import get_spark

    # The tiny world needs little: a small heap keeps the JVM from growing to half the
    # machine (its default) on a shared CI machine, where the kernel may kill it. On a
    # few rows a Spark job costs its scheduling: one shuffle partition and no adaptive
    # re-planning after each exchange (which doubles the jobs a feature batch runs) take
    # the in-process Spark tests from 186 s to 155 s. Adaptive execution is what a real
    # run has: the cluster test (`test_spark_cluster.py`) runs `offerrank run` with it.
    session = get_spark(
        conf={
            "spark.driver.memory": "2g",
            "spark.sql.shuffle.partitions": "1",
            "spark.sql.adaptive.enabled": "false",
        }
    )
    yield session
    session.stop()


def pytest_configure(config: pytest.Config) -> None:
    """Load the reliability ledger (its fixture and its end-of-session summary line)."""
    import reliability_ledger

    if not config.pluginmanager.is_registered(reliability_ledger):
        config.pluginmanager.register(reliability_ledger, "reliability_ledger")
