"""Point in time by construction: nothing dated T or later changes a feature as of T, and a
row computed in a batch of many as_of dates equals the same row computed alone."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offerrank.engines.duckdb.features import choose_plan, compute_features
from offerrank.engines.duckdb.tables import engine_from_arrow
from offerrank.features.plans import JOIN_PLAN, JOIN_PLAN_MAX_DATES, SINGLE_PLAN, WINDOW_PLAN
from offerrank.features.registry import FEATURE_SETS
from offerrank.store.contract import INPUT_TABLES

T = date(2024, 4, 1)
# Every known feature: the contract's and the extras, each held to the same rules.
EVERY = FEATURE_SETS["history"]
CUSTOMERS, PRODUCTS, OFFERS = 4, 5, 4
TYPES = ["restaurant", "hotel"]
ARROW_TYPES = {
    "int": pa.int64(),
    "flag": pa.int64(),
    "real": pa.float64(),
    "text": pa.string(),
    "date": pa.string(),
}
FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _days(rng: np.random.Generator, n: int, lo: int, hi: int, stamp: bool = False) -> list[str]:
    """ISO dates (sometimes with a time of day) between T + lo and T + hi - 1."""
    out = [(T + timedelta(days=int(d))).isoformat() for d in rng.integers(lo, hi, n)]
    if stamp:
        flips = rng.random(n) < 0.3
        out = [d + " 13:45:00" if flip else d for d, flip in zip(out, flips, strict=True)]
    return out


def _events(rng: np.random.Generator, lo: int, hi: int, first_id: int, n: int) -> dict:
    """Orders with lines, impressions and redemptions dated in [T + lo, T + hi)."""
    n_lines = 2 * n
    return {
        "orders": [
            first_id + np.arange(n),
            rng.integers(1, CUSTOMERS + 1, n),
            _days(rng, n, lo, hi, stamp=True),
            rng.integers(0, 2, n),
            [None] * n,
        ],
        "order_items": [
            first_id + rng.integers(0, n, n_lines),
            rng.integers(1, PRODUCTS + 1, n_lines),
            rng.integers(1, 5, n_lines) * 1.0,
            np.round(rng.uniform(0.5, 12.0, n_lines), 2),
            rng.integers(0, 2, n_lines),
        ],
        "impressions": [
            first_id + np.arange(n),
            rng.integers(1, CUSTOMERS + 1, n),
            rng.integers(1, OFFERS + 1, n),
            _days(rng, n, lo, hi),
            [None] * n,
            [None] * n,
        ],
        "redemptions": [
            first_id + np.arange(n),
            rng.integers(1, CUSTOMERS + 1, n),
            rng.integers(1, OFFERS + 1, n),
            _days(rng, n, lo, hi),
            [None] * n,
        ],
    }


def _store(rng: np.random.Generator, extra: dict | None = None) -> dict[str, pa.Table]:
    """A small random store; `extra` appends columns of later rows to some tables."""
    cols = {
        "customers": [
            np.arange(1, CUSTOMERS + 1),
            [TYPES[i % 2] for i in range(CUSTOMERS)],
            [None] * CUSTOMERS,
        ],
        "products": [
            np.arange(1, PRODUCTS + 1),
            [f"c{i % 3}" for i in range(PRODUCTS)],
            [i % 2 for i in range(PRODUCTS)],
            [1 + i % 3 for i in range(PRODUCTS)],
            [i % 2 for i in range(PRODUCTS)],
            [10.0] * PRODUCTS,
            [6.0] * PRODUCTS,
        ],
        "offers": [
            np.arange(1, OFFERS + 1),
            rng.integers(1, PRODUCTS + 1, OFFERS),
            _days(rng, OFFERS, -60, -1),
            _days(rng, OFFERS, 1, 30),
            np.round(rng.uniform(0.05, 0.6, OFFERS), 2),
            [None, "hotel", None, "restaurant"],
        ],
        **_events(rng, -130, 0, 1, 40),
    }
    for name, more in (extra or {}).items():
        cols[name] = [list(a) + list(b) for a, b in zip(cols[name], more, strict=True)]
    return {
        t.name: pa.table(
            {
                c.name: pa.array(list(v), ARROW_TYPES[c.kind])
                for c, v in zip(t.columns, cols[t.name], strict=True)
            }
        )
        for t in INPUT_TABLES
    }


def _all_pairs(as_of: date) -> pa.Table:
    c, o = np.meshgrid(np.arange(1, CUSTOMERS + 1), np.arange(1, OFFERS + 1))
    return pa.table(
        {
            "customer_id": c.ravel(),
            "offer_id": o.ravel(),
            "as_of": pa.array([as_of] * c.size, pa.date32()),
        }
    )


def _matrix(table: pa.Table) -> np.ndarray:
    return np.column_stack([table[c].to_numpy() for c in EVERY.columns])


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    n_later=st.integers(1, 30),
    lookback=st.integers(5, 120),
    plan=st.sampled_from([WINDOW_PLAN, JOIN_PLAN, SINGLE_PLAN]),
)
def test_events_dated_t_or_later_change_nothing(
    seed: int, n_later: int, lookback: int, plan: str
) -> None:
    rng = np.random.default_rng(seed)
    base = _store(rng)
    later = _events(np.random.default_rng(seed + 1), 0, 15, 1000, n_later)
    later_offers = [
        [100 + i for i in range(OFFERS)],
        list(rng.integers(1, PRODUCTS + 1, OFFERS)),
        _days(rng, OFFERS, 0, 5),
        _days(rng, OFFERS, 6, 20),
        [0.5] * OFFERS,
        [None] * OFFERS,
    ]
    grown = _store(np.random.default_rng(seed), {**later, "offers": later_offers})
    pairs = _all_pairs(T)
    before = compute_features(
        engine_from_arrow(base), pairs, plan=plan, lookback_days=lookback, feature_set=EVERY
    )
    after = compute_features(
        engine_from_arrow(grown), pairs, plan=plan, lookback_days=lookback, feature_set=EVERY
    )
    np.testing.assert_allclose(_matrix(after), _matrix(before), rtol=1e-12, atol=1e-12)


@FAST
@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(1, 40))
def test_a_row_in_a_batch_of_many_dates_equals_the_row_alone(seed: int, n_rows: int) -> None:
    rng = np.random.default_rng(seed)
    con = engine_from_arrow(_store(rng))
    as_of = [T - timedelta(days=int(d)) for d in rng.integers(0, 60, n_rows)]
    batch_pairs = pa.table(
        {
            "customer_id": rng.integers(1, CUSTOMERS + 1, n_rows),
            "offer_id": rng.integers(1, OFFERS + 1, n_rows),
            "as_of": pa.array(as_of, pa.date32()),
        }
    )
    # The batch goes through RANGE windows, the row alone through the scoring (single) plan:
    # equal rows prove both that batching changes nothing and that the plans agree.
    batch = compute_features(con, batch_pairs, plan=WINDOW_PLAN, feature_set=EVERY)
    for i in rng.choice(n_rows, min(n_rows, 3), replace=False):
        row = batch_pairs.slice(int(i), 1)
        assert choose_plan(row) == SINGLE_PLAN
        alone = compute_features(con, row, feature_set=EVERY)
        np.testing.assert_allclose(_matrix(alone)[0], _matrix(batch)[i], rtol=1e-12, atol=1e-12)


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(1, 60),
    n_dates=st.integers(1, 12),
    lookback=st.integers(1, 120),
)
def test_window_and_join_plans_give_the_same_values(
    seed: int, n_rows: int, n_dates: int, lookback: int
) -> None:
    rng = np.random.default_rng(seed)
    dates = [T - timedelta(days=int(d)) for d in rng.integers(-10, 90, n_dates)]
    _assert_plan_agrees(
        rng, [dates[j] for j in rng.integers(0, n_dates, n_rows)], JOIN_PLAN, lookback
    )


def _assert_plan_agrees(
    rng: np.random.Generator, as_of: list[date], plan: str, lookback: int
) -> None:
    """Random pairs (and an unknown customer and offer) as of `as_of`: `plan` gives the
    values of the window plan."""
    con = engine_from_arrow(_store(rng))
    pairs = pa.table(
        {
            "customer_id": rng.integers(1, CUSTOMERS + 2, len(as_of)),
            "offer_id": rng.integers(1, OFFERS + 2, len(as_of)),
            "as_of": pa.array(as_of, pa.date32()),
        }
    )
    window = compute_features(
        con, pairs, plan=WINDOW_PLAN, lookback_days=lookback, feature_set=EVERY
    )
    other = compute_features(con, pairs, plan=plan, lookback_days=lookback, feature_set=EVERY)
    assert window.select(["customer_id", "offer_id", "as_of"]).equals(
        other.select(["customer_id", "offer_id", "as_of"])
    )
    np.testing.assert_allclose(_matrix(other), _matrix(window), rtol=1e-12, atol=1e-12)


def test_one_date_takes_the_single_plan_a_few_the_join_plan_and_many_the_window() -> None:
    def pairs_on(n_dates: int) -> pa.Table:
        as_of = [T - timedelta(days=d) for d in range(n_dates)]
        return pa.table(
            {
                "customer_id": [1] * n_dates,
                "offer_id": [1] * n_dates,
                "as_of": pa.array(as_of, pa.date32()),
            }
        )

    assert choose_plan(pairs_on(1)) == SINGLE_PLAN
    assert choose_plan(pairs_on(2)) == JOIN_PLAN
    assert choose_plan(pairs_on(JOIN_PLAN_MAX_DATES)) == JOIN_PLAN
    assert choose_plan(pairs_on(JOIN_PLAN_MAX_DATES + 1)) == WINDOW_PLAN


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(1, 60),
    day=st.integers(-10, 90),
    lookback=st.integers(1, 120),
)
def test_single_date_plan_gives_the_values_of_the_window_plan(
    seed: int, n_rows: int, day: int, lookback: int
) -> None:
    rng = np.random.default_rng(seed)
    _assert_plan_agrees(rng, [T - timedelta(days=day)] * n_rows, SINGLE_PLAN, lookback)


def test_single_plan_refuses_a_batch_of_several_dates() -> None:
    con = engine_from_arrow(_store(np.random.default_rng(0)))
    pairs = pa.table(
        {
            "customer_id": [1, 1],
            "offer_id": [1, 1],
            "as_of": pa.array([T, T - timedelta(days=1)], pa.date32()),
        }
    )
    with pytest.raises(ValueError, match="one as_of date"):
        compute_features(con, pairs, plan=SINGLE_PLAN)
