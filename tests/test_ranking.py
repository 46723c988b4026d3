"""Candidates and top-K: the rules hold, and ranking ignores input order."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from engines import day_candidates, duckdb_engine
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


def test_candidates_respect_the_rules(tiny_world: Path) -> None:
    s = Settings(db_path=tiny_world)
    engine = duckdb_engine(tiny_world)
    con = engine.con
    cands = day_candidates(engine, DAY, s)
    assert cands.num_rows > 0
    con.register("cands", cands)
    broken = con.sql(
        """
        SELECT
          SUM(CASE WHEN NOT (o.start_date <= $d AND o.end_date >= $d) THEN 1 ELSE 0 END),
          SUM(CASE WHEN o.target_business_type IS NOT NULL
                    AND o.target_business_type <> c.business_type THEN 1 ELSE 0 END),
          SUM(CASE WHEN EXISTS (SELECT 1 FROM redemptions r WHERE r.customer_id = k.customer_id
                    AND r.offer_id = k.offer_id AND r.redeemed_date < $d) THEN 1 ELSE 0 END)
        FROM cands k JOIN offers o USING (offer_id) JOIN customers c USING (customer_id)
        """,
        params={"d": DAY},
    ).fetchall()[0]
    assert broken == (0, 0, 0)
    per_customer = con.sql(
        "SELECT MAX(n) FROM (SELECT customer_id, COUNT(*) n FROM cands GROUP BY 1)"
    ).fetchall()[0][0]
    assert per_customer <= s.max_candidates_per_customer
    dupes = con.sql(
        "SELECT COUNT(*) - COUNT(DISTINCT (customer_id, offer_id)) FROM cands"
    ).fetchall()[0][0]
    assert dupes == 0


def test_cold_start_customer_gets_popular_offers(tiny_world: Path) -> None:
    s = Settings(db_path=tiny_world)
    engine = duckdb_engine(tiny_world)
    engine.con.sql("INSERT INTO customers VALUES (999999, 'restaurant', NULL)")
    cands = day_candidates(engine, DAY, s, customers=pa.table({"customer_id": [999999]}))
    assert 0 < cands.num_rows <= s.cold_start_offers


def test_shuffling_candidates_changes_no_score(tiny_world: Path) -> None:
    s = Settings(db_path=tiny_world)
    engine = duckdb_engine(tiny_world)
    cands = day_candidates(engine, DAY, s).slice(0, 2000)
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
