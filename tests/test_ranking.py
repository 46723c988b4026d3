"""Candidates and top-K: the rules hold, and ranking ignores input order."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from engines import day_eligible_pairs, duckdb_engine
from offerrank.config import Settings
from offerrank.features.registry import constant_dates, feature_matrix
from offerrank.ranking.rank import ranking_order, top_k
from offerrank.training.models import LogisticModel

DAY = date(2026, 2, 16)


def test_top_k_by_hand() -> None:
    c = np.array([2, 1, 1, 1, 2])
    o = np.array([9, 5, 6, 7, 8])
    s = np.array([0.1, 0.3, 0.9, 0.3, 0.2])
    out = top_k(c, o, s, k=2).to_pydict()
    assert out["customer_id"] == [1, 1, 2, 2]
    assert out["offer_id"] == [6, 5, 8, 9]  # tie 0.3 between 5 and 7: lower offer first
    assert out["rank"] == [1, 2, 1, 2]


@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 30), st.floats(0, 1)),
        min_size=1,
        max_size=60,
        unique_by=lambda t: (t[0], t[1]),
    ),
    st.integers(1, 5),
    st.randoms(),
)
def test_top_k_ignores_input_order(rows, k, rnd) -> None:
    c, o, s = (np.array(x) for x in zip(*rows, strict=True))
    perm = np.array(rnd.sample(range(len(rows)), len(rows)))
    a = top_k(c, o, s, k)
    b = top_k(c[perm], o[perm], s[perm], k)
    assert a.equals(b)
    per_customer = np.bincount(a.column("customer_id").to_numpy())
    assert per_customer.max() <= k


@given(
    st.lists(
        st.tuples(
            st.integers(-3, 5),
            st.integers(0, 4),
            st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(allow_nan=True)),
        ),
        max_size=80,
    ),
    st.sampled_from([0, 10**9]),
)
def test_ranking_order_is_the_lexsort_order(rows, sql_from) -> None:
    """Ties, duplicates, infinities and NaN included: the SQL sort (sql_from=0) and the
    numpy one give np.lexsort's order."""
    c, o, s = (np.array(x) for x in zip(*rows, strict=True)) if rows else ([], [], [])
    c, o, s = np.asarray(c, np.int64), np.asarray(o, np.int64), np.asarray(s, np.float64)
    expected = np.lexsort((o, -s, c))
    assert ranking_order(c, o, s, sql_from=sql_from).tolist() == expected.tolist()


def test_a_customer_without_history_still_gets_a_full_pool(tiny_world: Path) -> None:
    from offerrank.engines.base import FirstStage
    from offerrank.features.registry import FEATURE_COLUMNS
    from offerrank.ranking.retrieval import retrieval_query

    engine = duckdb_engine(tiny_world)
    engine.con.sql("INSERT INTO customers VALUES (999999, 'restaurant', NULL)")
    stage = FirstStage(tuple(1.0 if n == "discount_depth" else 0.0 for n in FEATURE_COLUMNS), 0.0)
    pool = pa.concat_tables(engine.pool_partitions(retrieval_query(DAY, stage, 5), 1, lambda p: p))
    mine = pool.filter(pa.compute.equal(pool.column("customer_id"), 999999))
    assert mine.num_rows == 5
    assert mine.column("recency_days").to_pylist() == [91.0] * 5  # no order in the window
    deepest = sorted(mine.column("discount_depth").to_pylist(), reverse=True)
    eligible = day_eligible_pairs(engine, DAY, Settings(), pa.table({"customer_id": [999999]}))
    assert mine.num_rows <= eligible.num_rows and deepest == sorted(deepest, reverse=True)


def test_shuffling_candidates_changes_no_score(tiny_world: Path) -> None:
    s = Settings(db_path=tiny_world)
    engine = duckdb_engine(tiny_world)
    cands = day_eligible_pairs(engine, DAY, s).slice(0, 2000)
    model = LogisticModel(np.zeros(22), np.ones(22), np.linspace(-1, 1, 22) / 10, -3.0)

    def score(pairs: pa.Table) -> tuple[pa.Table, np.ndarray]:
        rows = pairs.select(["customer_id", "offer_id"]).append_column(
            "as_of", constant_dates(DAY, pairs.num_rows)
        )
        feats = engine.features(rows)
        return feats, model.predict_proba(feature_matrix(feats))

    _, scores = score(cands)
    perm = np.random.default_rng(0).permutation(cands.num_rows)
    feats_p, scores_p = score(cands.take(perm))
    assert np.allclose(scores[perm], scores_p)
    assert feats_p.column("customer_id").to_numpy().tolist() == (
        cands.column("customer_id").to_numpy()[perm].tolist()
    )


@given(
    st.lists(
        st.tuples(
            st.integers(0, 6),
            st.integers(0, 5),
            st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(allow_nan=True)),
        ),
        min_size=1,
        max_size=80,
    )
)
def test_a_grouped_pool_is_ranked_as_any_pool(rows) -> None:
    """Customers in order (the grid scorer's pools): the per-customer padded sort gives the
    ranks of the general sort, with ties, duplicates, infinities and NaN."""
    from offerrank.ranking.rank import grouped_rank

    rows = sorted(rows, key=lambda r: r[0])
    c, o, s = (np.array(x) for x in zip(*rows, strict=True))
    c, o, s = c.astype(np.int64), o.astype(np.int64), s.astype(np.float64)
    order = np.lexsort((o, -s, c))
    expected = np.empty(c.size, np.int64)
    first = {}
    for position, i in enumerate(order):
        first.setdefault(c[i], position)
        expected[i] = position - first[c[i]] + 1
    assert grouped_rank(c, o, s).tolist() == expected.tolist()
