"""The grid scorer is a faster path to the same pool: on tiny, small and a scaled harsh
world, for first stages drawn at random (ties included), the pairs it keeps, their
retrieval ranks, first-stage scores and 22 features equal the SQL path's, partition by
partition; and a whole run with either scorer writes the same lists."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offerrank.config import Settings
from offerrank.engines.base import FirstStage
from offerrank.engines.duckdb.engine import DuckDBEngine
from offerrank.engines.grid import grid_pool
from offerrank.features.registry import CONTRACT_FEATURES, FEATURE_SETS, FeatureSet
from offerrank.pipeline.daily import run_daily
from offerrank.ranking.retrieval import retrieval_query
from offerrank.world.generate import PRESETS, generate_world

MONDAY, TUESDAY = date(2026, 2, 16), date(2026, 2, 17)
KEYS = ["customer_id", "offer_id"]
# Fewer households and products than `harsh`, the same books of ~200 coupons running weeks.
HARSH_TEST = PRESETS["harsh"].with_(name="harsh-grid", customers=250, products=2_000, days=120)


def _engine(db: Path, scorer: str) -> DuckDBEngine:
    engine = DuckDBEngine(Settings(db_path=db, scorer=scorer, history_cache=False))
    engine.load()
    return engine


@pytest.fixture(scope="module")
def tiny_engine(tiny_world: Path) -> Iterator[DuckDBEngine]:
    engine = _engine(tiny_world, "sql")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def harsh_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("harsh_grid") / "harsh.db"
    generate_world(db, preset=HARSH_TEST, seed=5)
    return db


def _pool(
    engine: DuckDBEngine,
    scorer: str,
    as_of: date,
    stage: FirstStage,
    n: int,
    parts: int,
    features: FeatureSet = FEATURE_SETS["contract"],
):
    engine.settings = engine.settings.model_copy(update={"scorer": scorer})
    retrieval = retrieval_query(as_of, stage, n, features)
    got = list(engine.pool_partitions(retrieval, parts, lambda pool: pool))
    return [p.sort_by([(k, "ascending") for k in KEYS]) for p in got]


def assert_same_pool(
    engine: DuckDBEngine,
    as_of: date,
    stage: FirstStage,
    n: int,
    parts: int,
    features: FeatureSet = FEATURE_SETS["contract"],
):
    sql = _pool(engine, "sql", as_of, stage, n, parts, features)
    grid = _pool(engine, "grid", as_of, stage, n, parts, features)
    assert len(sql) == len(grid), "partitions differ"
    for a, b in zip(sql, grid, strict=True):
        assert a.num_rows == b.num_rows
        assert a.column_names == b.column_names == [
            *KEYS, "as_of", *features.columns, "first_stage", "retrieval_rank"
        ]  # fmt: skip
        for key in [*KEYS, "as_of", "retrieval_rank"]:
            assert a.column(key).equals(b.column(key)), key
        for name in [*features.columns, "first_stage"]:
            x, y = a.column(name).to_numpy(), b.column(name).to_numpy()
            assert np.max(np.abs(x - y), initial=0.0) <= 1e-12, name
    return sum(p.num_rows for p in sql)


def _random_stage(seed: int, zeros: float = 0.0) -> FirstStage:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=len(CONTRACT_FEATURES)) * rng.choice([1e-3, 1.0, 10.0], size=22)
    w[rng.random(22) < zeros] = 0.0
    return FirstStage(tuple(float(v) for v in w), float(rng.normal()))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**31),
    zeros=st.sampled_from([0.0, 0.5, 1.0]),
    n=st.sampled_from([1, 3, 10, 40, 1000]),
    parts=st.sampled_from([1, 3]),
    day=st.sampled_from([date(2025, 11, 20), MONDAY, TUESDAY, date(2026, 2, 28)]),
)
def test_grid_pool_equals_the_sql_pool_on_tiny(
    tiny_engine: DuckDBEngine, seed: int, zeros: float, n: int, parts: int, day: date
) -> None:
    """Any first stage, any size, any partitioning: the same pool. With all weights zero
    every score ties, so the ranks are decided by offer id alone."""
    assert assert_same_pool(tiny_engine, day, _random_stage(seed, zeros), n, parts) > 0


def test_grid_pool_equals_the_sql_pool_on_small(tmp_path_factory: pytest.TempPathFactory) -> None:
    db = tmp_path_factory.mktemp("small_grid") / "small.db"
    generate_world(db, preset="small", seed=11)
    engine = _engine(db, "sql")
    try:
        pairs = assert_same_pool(engine, TUESDAY, _random_stage(3), 130, 3)
    finally:
        engine.close()
    assert pairs > 100_000


def test_grid_pool_equals_the_sql_pool_on_harsh(harsh_world: Path) -> None:
    """Hundreds of coupons active at once, targeted books, constant columns; with the
    extra features too (customer- and offer-grain: computed once a day and gathered)."""
    engine = _engine(harsh_world, "sql")
    try:
        last = engine.con.execute("SELECT MAX(order_date) FROM orders").fetchall()[0][0]
        for stage, n in ((_random_stage(1), 300), (_random_stage(2, zeros=0.5), 1000)):
            assert assert_same_pool(engine, last, stage, n, 2) > 10_000
        history = FEATURE_SETS["history"]
        assert assert_same_pool(engine, last, _random_stage(4), 200, 3, history) > 10_000
    finally:
        engine.close()


@pytest.mark.parametrize("day", [date(2025, 11, 20), TUESDAY])
def test_grid_pool_with_extra_features_equals_the_sql_pool(
    tiny_engine: DuckDBEngine, day: date
) -> None:
    assert assert_same_pool(tiny_engine, day, _random_stage(9), 10, 3, FEATURE_SETS["history"]) > 0


def test_a_pair_grain_extra_takes_the_sql_path(
    tiny_engine: DuckDBEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grid computes customer- and offer-grain extras only; a pair-grain one (the
    test package's feature) sends the pool through SQL, which computes it."""
    import offerrank.engines.duckdb.engine as duck
    from feature_package import extra_feature_set, write_package
    from offerrank.engines.grid import grid_supports

    write_package(tmp_path, monkeypatch)
    paired = extra_feature_set()
    assert grid_supports(FEATURE_SETS["history"]) and not grid_supports(paired)
    assert not grid_supports(FeatureSet(FEATURE_SETS["history"].features[::-1]))
    monkeypatch.setattr(duck, "grid_pool", lambda *a, **k: pytest.fail("grid used"))
    (pool,) = _pool(tiny_engine, "grid", TUESDAY, _random_stage(0), 5, 1, paired)
    assert pool.num_rows > 0 and pool.column_names[-3] == "offers_seen_before"


def test_grid_keeps_ties_by_offer_id() -> None:
    """Hand-made: two customers, four offers, offer-only weights that tie two offers."""
    from offerrank.engines.grid import GridCustomers, GridDay, GridOffers

    offers = GridOffers(
        offer_id=np.array([10, 20, 30, 40]),
        features=np.array(
            [[0.5, 0, 0, 0, 0], [0.2, 0, 0, 0, 0], [0.5, 0, 0, 0, 0], [0.9, 0, 0, 0, 0]]
        ),
        category=np.zeros(4, np.int64),
        product=np.array([0, 1, 2, 3]),
        tier=np.zeros(4, np.int64),
        target=np.array([-1, -1, -1, 0]),
        discount=np.array([0.5, 0.2, 0.5, 0.9]),
        n_categories=1,
        n_products=4,
        extra=np.zeros((4, 0)),
    )
    people = GridCustomers(
        customer_id=np.array([1, 2]),
        eligible=np.array([True, True]),
        business_type=np.array([0, 1]),  # customer 2 is not of offer 40's type
        features=np.zeros((2, 11)),
        n_lines=np.zeros(2, np.int64),
        usual_discount=np.zeros(2),
        tier_share=np.zeros((2, 4)),
        cat_row=np.zeros(0, np.int64), cat_col=np.zeros(0, np.int64),
        cat_lines=np.zeros(0, np.int64), cat_last_day=np.zeros(0, np.int64),
        prod_row=np.zeros(0, np.int64), prod_col=np.zeros(0, np.int64),
        red_row=np.array([0]), red_col=np.array([2]),  # customer 1 redeemed offer 30
        extra=np.zeros((2, 0)),
    )  # fmt: skip
    weights = [0.0] * 22
    weights[CONTRACT_FEATURES.index("discount_depth")] = 1.0
    pool = grid_pool(GridDay(TUESDAY, 90, offers), people, FirstStage(tuple(weights), 0.0), 2)
    got = list(zip(*(pool.column(c).to_pylist() for c in (*KEYS, "retrieval_rank")), strict=True))
    # customer 1: 40 (0.9), then 10 (0.5; 30 redeemed); customer 2: 10 and 30 tie at 0.5
    assert got == [(1, 40, 1), (1, 10, 2), (2, 10, 1), (2, 30, 2)]
    assert pool.column("first_stage").to_pylist() == [0.9, 0.5, 0.5, 0.5]


def _lists(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return sorted(
            con.execute(
                "SELECT customer_id, offer_id, rank, score, propensity, reason_codes"
                " FROM recommendations WHERE run_date = ?",
                (TUESDAY.isoformat(),),
            ).fetchall()
        )


def test_a_run_with_either_scorer_writes_the_same_lists(tiny_world: Path, tmp_path: Path) -> None:
    monday = tmp_path / "monday.db"
    shutil.copy(tiny_world, monday)
    base = Settings(db_path=monday, artifacts_dir=tmp_path / "models", bootstrap_samples=20,
                    min_train_positives=0, reports_dir=tmp_path / "reports")  # fmt: skip
    assert run_daily(base, MONDAY).ok
    lists = {}
    for scorer in ("sql", "grid"):
        db = tmp_path / f"{scorer}.db"
        shutil.copy(monday, db)
        s = base.model_copy(update={"db_path": db, "scorer": scorer, "partitions": 3})
        result = run_daily(s, TUESDAY)
        assert result.ok
        lists[scorer] = (_lists(db), result.metrics["candidate_pool_size"])
    assert lists["grid"] == lists["sql"]
    assert len(lists["grid"][0]) > 1000


def test_an_unknown_scorer_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="scorer must be grid or sql"):
        Settings(scorer="fast")


def test_a_day_without_active_offers_scores_nothing(tiny_engine: DuckDBEngine) -> None:
    stage = _random_stage(0)
    pools = _pool(tiny_engine, "grid", date(2030, 1, 1), stage, 10, 2)
    assert pools and all(p.num_rows == 0 for p in pools)
    assert set(pools[0].column_names) >= {*KEYS, *CONTRACT_FEATURES}


def test_the_scorer_setting_chooses_the_path(
    tiny_engine: DuckDBEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import offerrank.engines.duckdb.engine as duck

    calls = {"grid": 0, "sql": 0}
    real_grid, real_sql = duck.grid_pool, duck.pool_features

    def counted(name: str, fn):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(duck, "grid_pool", counted("grid", real_grid))
    monkeypatch.setattr(duck, "pool_features", counted("sql", real_sql))
    _pool(tiny_engine, "sql", TUESDAY, _random_stage(0), 10, 2)
    assert calls == {"grid": 0, "sql": 2}
    _pool(tiny_engine, "grid", TUESDAY, _random_stage(0), 10, 2)
    assert calls == {"grid": 2, "sql": 2}


@pytest.mark.parametrize("parts", [1, 5])
def test_customers_staged_in_groups_give_the_same_pool(
    tiny_engine: DuckDBEngine, monkeypatch: pytest.MonkeyPatch, parts: int
) -> None:
    """Past GRID_STAGE_CUSTOMERS the day's customer tables are built a group of partitions
    at a time (a million customers); the pool is the same."""
    import offerrank.engines.duckdb.engine as duck

    monkeypatch.setattr(duck, "GRID_STAGE_CUSTOMERS", 90)  # tiny's 400 customers: 5 groups
    assert assert_same_pool(tiny_engine, TUESDAY, _random_stage(5), 25, parts) > 0
