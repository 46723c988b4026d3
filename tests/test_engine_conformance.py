"""What any engine must answer: each operation of `engines.base.Engine` on the hand-made
contract tables of `contract_tables.py`, against answers worked out by hand.

Run on DuckDB (its grid scorer and its SQL path), on `ReferenceEngine` (an engine added
by the recipe of docs/architecture.md: `SqlEngine`'s shared SQL plus four operations of
its own) and, under the `spark` marker, on Spark in the test run's one session.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from contract_tables import DAY, contract_tables, with_rows
from offerrank.config import Settings
from offerrank.engines import queries
from offerrank.engines.base import (
    Engine,
    FirstStage,
    Retrieval,
    SqlQuery,
    StoreFacts,
    Window,
    partition_of,
)
from offerrank.engines.common import SqlEngine
from offerrank.engines.duckdb.engine import DuckDBEngine
from offerrank.features.registry import (
    CONTRACT_FEATURES,
    DEFAULT_FEATURES,
    FeatureSet,
    constant_dates,
    feature_matrix,
    feature_schema,
)
from offerrank.ranking.retrieval import eligible_sql
from offerrank.store.db import create_input_tables, insert_arrow


# -- the recipe: an engine ----------------------------------------------------------------
class ReferenceEngine(SqlEngine):
    """An engine as docs/architecture.md adds one: `SqlEngine` gives the operations that are
    one shared statement once `_query` runs a statement; the tables, the statements and
    the features are a DuckDB engine's (`data`), the first stage and the partitions its
    own, in plain NumPy, one partition at a time."""

    name = "reference"

    def __init__(self, data: DuckDBEngine) -> None:
        self.data = data
        self.settings = data.settings

    def load(self, since: date | None = None) -> None:
        self.data.load(since)

    def _query(
        self, sql: str, params: Mapping[str, Any], inputs: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        return self.data._query(sql, params, inputs)

    def features(self, rows: pa.Table, feature_set: FeatureSet = DEFAULT_FEATURES) -> pa.Table:
        return self.data.features(rows, feature_set)

    def _ranked(self, eligible: pa.Table, first_stage: FirstStage) -> pa.Table:
        return first_stage_ranked(self.features(eligible), first_stage)

    def pool_partitions(
        self, retrieval: Retrieval, partitions: int, process: Callable[[pa.Table], pa.Table]
    ) -> Iterator[pa.Table]:
        as_of = retrieval.eligible.params["as_of"]
        customers = self._query(queries.ALL_CUSTOMERS, {}).column("customer_id").to_numpy()
        part = partition_of(customers, partitions)
        for p in np.unique(part):
            scope = pa.table({"customer_id": customers[part == p]})
            pairs = self.scoped_pairs(retrieval.eligible, scope)
            pairs = pairs.append_column("as_of", constant_dates(as_of, pairs.num_rows))
            pool = first_stage_ranked(
                self.features(pairs, retrieval.feature_set), retrieval.first_stage
            )
            ranks = pool.column("retrieval_rank").to_numpy()
            yield process(pool.filter(pa.array(ranks <= retrieval.per_customer)))

    def close(self) -> None:
        self.data.close()


def first_stage_ranked(features: pa.Table, first_stage: FirstStage) -> pa.Table:
    """Rows with the first stage's score and their rank among the customer's rows of the
    same day (best score first, ties to the lower offer id)."""
    score = first_stage.bias + feature_matrix(features, CONTRACT_FEATURES) @ np.asarray(
        first_stage.weights
    )
    customer = features.column("customer_id").to_numpy()
    offer = features.column("offer_id").to_numpy()
    day = features.column("as_of").cast(pa.int32()).to_numpy()
    order = np.lexsort((offer, -score, day, customer))
    ranks = np.zeros(len(order), dtype=np.int64)
    previous, rank = None, 0
    for i in order:
        group = (customer[i], day[i])
        rank = rank + 1 if group == previous else 1
        ranks[i], previous = rank, group
    return features.append_column("first_stage", pa.array(score)).append_column(
        "retrieval_rank", pa.array(ranks)
    )


# -- the engines under test ---------------------------------------------------------------
@dataclass
class Maker:
    """Builds engines of one kind on contract tables or on a store, and closes them."""

    kind: str
    session: Any = None
    made: list[Engine] = field(default_factory=list)

    def settings(self, **values: Any) -> Settings:
        base: dict[str, Any] = {"history_cache": False}
        if self.kind == "duckdb-sql":
            base["scorer"] = "sql"
        if self.kind == "spark":
            base["engine"] = "spark"
        return Settings(**{**base, **values})

    def on(self, tables: dict[str, pa.Table], **values: Any) -> Engine:
        """An engine holding `tables`, its labels built."""
        s = self.settings(**values)
        engine: Engine
        if self.kind == "spark":
            from offerrank.engines.spark.engine import SparkEngine
            from offerrank.engines.spark.tables import build_labels, load_arrow

            load_arrow(self.session, tables)
            build_labels(self.session, s.label_window_days)
            engine = SparkEngine(s, self.session)
        elif self.kind == "reference":
            engine = ReferenceEngine(DuckDBEngine.from_tables(s, tables))
        else:
            engine = DuckDBEngine.from_tables(s, tables)
        self.made.append(engine)
        return engine

    def of_store(self, db: Path, **values: Any) -> Engine:
        """An engine on the store at `db`, not loaded yet."""
        from offerrank.engines.registry import open_engine

        s = self.settings(db_path=db, **values)
        if self.kind == "reference":
            engine: Engine = ReferenceEngine(DuckDBEngine(s))
        elif self.kind == "spark":
            from offerrank.engines.spark.engine import SparkEngine

            engine = SparkEngine(s, self.session)
        else:
            engine = open_engine(s)
        self.made.append(engine)
        return engine


ENGINES = ["duckdb", "duckdb-sql", "reference", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.fixture(params=ENGINES)
def make(request: pytest.FixtureRequest) -> Iterator[Maker]:
    session = None
    if request.param == "spark":
        pytest.importorskip("pyspark")
        session = request.getfixturevalue("spark")
    maker = Maker(request.param, session)
    yield maker
    for engine in maker.made:
        engine.close()


@pytest.fixture
def engine(make: Maker) -> Engine:
    return make.on(contract_tables())


def d(text: str) -> date:
    return date.fromisoformat(f"2026-{text}")


# -- the operations -----------------------------------------------------------------------
def test_labelled_impressions_are_the_window_s_impressions_labelled_by_the_label_window(
    make: Maker,
) -> None:
    engine = make.on(contract_tables())
    rows = engine.labelled_impressions(Window(d("02-01"), d("03-31"))).to_pylist()
    assert [
        (r["impression_id"], r["customer_id"], r["offer_id"], r["as_of"], r["label"]) for r in rows
    ] == [
        (1, 5, 102, d("02-10"), 1),
        (2, 70, 102, d("02-10"), 0),
        (3, 5, 100, d("03-01"), 1),
        (4, 70, 100, d("03-02"), 0),
        (5, 70, 101, d("03-02"), 1),
        (6, 5, 102, d("02-20"), 0),
    ]
    inner = engine.labelled_impressions(Window(d("02-11"), d("03-01")))
    assert inner.column("impression_id").to_pylist() == [3, 6]
    # an 8-day window reaches the redemption of 02-18
    wider = make.on(contract_tables(), label_window_days=8)
    labels = wider.labelled_impressions(Window(d("02-10"), d("02-10"))).column("label")
    assert labels.to_pylist() == [1, 1]


def test_positives_by_day_count_the_labels_of_each_day_with_impressions(engine: Engine) -> None:
    rows = engine.positives_by_day(Window(d("02-01"), d("03-31"))).to_pylist()
    assert [(r["shown_date"], r["positives"]) for r in rows] == [
        (d("02-10"), 1),
        (d("02-20"), 0),
        (d("03-01"), 1),
        (d("03-02"), 1),
    ]


def test_facts_and_active_offers_of_the_day(engine: Engine) -> None:
    # offers 100, 101 and 104 (its last day); customers 5, 70 (no signup date) and 200
    # (signed up that day), not 140
    assert engine.facts(DAY) == StoreFacts(d("02-10"), active_offers=3, eligible_customers=3)
    assert engine.active_offers(DAY).tolist() == [100, 101, 104]
    assert engine.active_offers(DAY + timedelta(days=1)).tolist() == [100, 101, 103]


def test_unit_costs_describe_cost_over_list_price(engine: Engine) -> None:
    costs = engine.unit_costs()
    # ratios 6 / 10 = 0.6 and 1 / 4 = 0.25; population spread (0.6 - 0.25) / 2
    assert costs == pytest.approx(
        {"products": 2, "with_cost": 2, "low_ratio": 0.25, "high_ratio": 0.6, "spread": 0.175}
    )


def test_offer_facts_in_input_order_with_null_for_an_unknown_id(engine: Engine) -> None:
    facts = engine.offer_facts(np.array([101, 999, 100, 101]))
    assert facts.column("offer_id").to_pylist() == [101, 999, 100, 101]
    assert facts.column("category").to_pylist() == ["bakery", None, "dairy", "bakery"]
    # 4 * (1 - 0.5) - 1 and 10 * (1 - 0.25) - 6
    assert facts.column("unit_margin").to_pylist() == [1.0, None, 1.5, 1.0]
    assert facts.column("targeted").to_pylist() == [True, False, False, True]


def _pairs(table: pa.Table) -> set[tuple[int, int]]:
    return set(
        zip(*(table.column(c).to_pylist() for c in ("customer_id", "offer_id")), strict=True)
    )


def test_scoped_pairs_follow_the_eligibility_rules(engine: Engine) -> None:
    query = SqlQuery(eligible_sql(), {"as_of": DAY})
    everyone = pa.table({"customer_id": [5, 70, 140, 200]})
    # 5: 100 redeemed before the day, 101 for hotels; 70: 101 redeemed on the day itself;
    # 140: not signed up; 200: signed up on the day
    assert _pairs(engine.scoped_pairs(query, everyone)) == {
        (5, 104),
        (70, 100),
        (70, 101),
        (200, 100),
        (200, 101),
    }
    assert _pairs(engine.scoped_pairs(query, pa.table({"customer_id": [70]}))) == {
        (70, 100),
        (70, 101),
    }


def first_stage(weight: float = 0.0, bias: float = 0.0) -> FirstStage:
    """A first stage that scores a pair by its discount depth times `weight`."""
    weights = [0.0] * len(CONTRACT_FEATURES)
    weights[CONTRACT_FEATURES.index("discount_depth")] = weight
    return FirstStage(tuple(weights), bias)


def test_retrieval_ranks_rank_each_customer_s_eligible_pairs(engine: Engine) -> None:
    pairs = pa.table(
        {
            "customer_id": [70, 5, 70, 5],
            "offer_id": [101, 100, 100, 104],
            "as_of": constant_dates(DAY, 4),
        }
    )
    # ties go to the lower offer id; (5, 100) is not eligible
    assert engine.retrieval_ranks(pairs, eligible_sql(), first_stage()).tolist() == [2, 0, 1, 1]
    # by discount: 101 (0.5) before 100 (0.25)
    assert engine.retrieval_ranks(pairs, eligible_sql(), first_stage(1.0)).tolist() == [1, 0, 2, 1]


def test_features_come_back_in_row_order_as_of_each_row(engine: Engine) -> None:
    rows = pa.table(
        {
            "customer_id": [70, 5, 70, 999, 5],
            "offer_id": [100, 104, 100, 100, 104],
            "as_of": [DAY, DAY, DAY, DAY, d("02-10")],
        }
    )
    out = engine.features(rows)
    assert out.schema == feature_schema(DEFAULT_FEATURES)
    for key in ("customer_id", "offer_id", "as_of"):
        assert out.column(key).to_pylist() == rows.column(key).to_pylist()
    # 70's order of 02-20 and 5's of 02-10 are 13 and 23 days before the day; none before
    # 02-10 itself (an order of the as_of day does not count) nor for 999: lookback + 1
    assert out.column("recency_days").to_pylist() == [13, 23, 13, 91, 91]
    assert out.column("frequency").to_pylist() == [1, 1, 1, 0, 0]
    assert out.column("discount_depth").to_pylist() == [0.25, 0.3, 0.25, 0.25, 0.3]
    assert out.column("days_until_expiry").to_pylist() == [26, 0, 26, 26, 23]
    # 5 bought product 10 (offer 104's) on 02-10; 70 bought only product 11
    assert out.column("bought_product_before").to_pylist() == [0, 1, 0, 0, 0]


def summariser() -> Callable[[pa.Table], pa.Table]:
    """The `process` the tests hand over: the kept pairs, and how many rows its call saw.
    Made inside a function so that Spark ships it by value to its Python workers, which
    cannot import a test module."""

    def summarise(pool: pa.Table) -> pa.Table:
        n = pool.num_rows
        return pa.table(
            {
                "customer_id": pool.column("customer_id").cast(pa.int64()),
                "offer_id": pool.column("offer_id").cast(pa.int64()),
                "first_stage": pool.column("first_stage").cast(pa.float64()),
                "retrieval_rank": pool.column("retrieval_rank").cast(pa.int64()),
                "rows_seen": pa.array(np.full(n, n, dtype=np.int64)),
            }
        )

    return summarise


@pytest.mark.parametrize("partitions", [1, 3])
def test_pool_partitions_puts_each_customer_in_one_partition_and_one_call(
    engine: Engine, partitions: int
) -> None:
    retrieval = Retrieval(SqlQuery(eligible_sql(), {"as_of": DAY}), first_stage(1.0, 0.5), 1)
    parts = [p for p in engine.pool_partitions(retrieval, partitions, summariser()) if p.num_rows]
    kept = {
        (r["customer_id"], r["offer_id"], r["retrieval_rank"]): r["first_stage"]
        for p in parts
        for r in p.to_pylist()
    }
    # each customer's deepest eligible discount, scored 0.5 + the discount
    assert kept == pytest.approx({(5, 104, 1): 0.8, (70, 101, 1): 1.0, (200, 101, 1): 1.0})
    owners = [set(p.column("customer_id").to_pylist()) for p in parts]
    assert sorted(c for owner in owners for c in owner) == [5, 70, 200]  # one partition each
    assert 1 <= len(parts) <= partitions
    for part in parts:  # what came back of a partition is what one call of process saw
        assert part.column("rows_seen").to_pylist() == [part.num_rows] * part.num_rows


def test_pool_partitions_keeps_the_best_per_customer_pairs(engine: Engine) -> None:
    retrieval = Retrieval(SqlQuery(eligible_sql(), {"as_of": DAY}), first_stage(), 5)
    rows = pa.concat_tables(list(engine.pool_partitions(retrieval, 2, summariser()))).to_pylist()
    ranked = sorted((r["customer_id"], r["retrieval_rank"], r["offer_id"]) for r in rows)
    # all tied at 0: every eligible pair, ranked by offer id
    assert ranked == [(5, 1, 104), (70, 1, 100), (70, 2, 101), (200, 1, 100), (200, 2, 101)]


def test_the_inputs_digest_sees_exactly_the_rows_an_evaluation_reads(make: Maker) -> None:
    first, last, last_label = d("02-01"), d("03-02"), d("03-09")

    def digest(tables: dict[str, pa.Table]) -> str:
        return make.on(tables).inputs_digest(first, last, last_label)

    base = digest(contract_tables())
    assert digest(contract_tables()) == base
    late = with_rows(contract_tables(), "redemptions", [(9, 5, 101, "2026-03-20", None)])
    assert digest(late) == base  # redeemed after the last label day
    seen = with_rows(contract_tables(), "impressions", [(9, 200, 100, "2026-03-02", None, None)])
    assert digest(seen) != base
    later = with_rows(contract_tables(), "impressions", [(9, 200, 100, "2026-03-03", None, None)])
    assert digest(later) == base  # shown after `last`


def test_load_holds_the_store_s_tables_from_since(make: Maker, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with sqlite3.connect(db) as con:
        create_input_tables(con)
        for name, table in contract_tables().items():
            insert_arrow(con, name, table)
    whole = make.of_store(db)
    whole.load()
    assert whole.facts(DAY) == StoreFacts(d("02-10"), 3, 3)
    assert whole.positives_by_day(Window(d("02-01"), d("03-31"))).num_rows == 4
    recent = make.of_store(db)
    recent.load(since=d("02-15"))  # the order of 02-10 is left out, impressions are not
    assert recent.facts(DAY).first_order == d("02-20")
    assert recent.labelled_impressions(Window(d("02-01"), d("03-31"))).num_rows == 6
