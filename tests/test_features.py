"""The 22 point-in-time features: the golden fixture, exactly, and hand-computed edge cases."""

from __future__ import annotations

import itertools
import math
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offerrank.engines.duckdb.features import compute_features
from offerrank.engines.duckdb.tables import connect_store, engine_from_arrow
from offerrank.errors import ContractViolation
from offerrank.features.plans import JOIN_PLAN, SINGLE_PLAN, WINDOW_PLAN
from offerrank.features.registry import FEATURE_COLUMNS, MAX_ORDER_RUNS, ordered_by_row_id
from offerrank.store.contract import INPUT_TABLES

# The golden fixture of spec/features.md, copied into the repository so the suite is hermetic.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN_STORE = FIXTURES / "golden_store.sql"
GOLDEN_EXPECTED = FIXTURES / "golden_expected.csv"
ARROW_TYPES = {
    "int": pa.int64(),
    "flag": pa.int64(),
    "real": pa.float64(),
    "text": pa.string(),
    "date": pa.string(),
}
T = date(2024, 4, 1)


def make_tables(**rows: list[tuple]) -> dict[str, pa.Table]:
    """Contract tables from tuples in contract column order; tables not given are empty."""
    out = {}
    for table in INPUT_TABLES:
        data = rows.get(table.name, [])
        cols = list(zip(*data, strict=True)) if data else [[] for _ in table.columns]
        columns = zip(table.columns, cols, strict=True)
        out[table.name] = pa.table(
            {c.name: pa.array(list(v), ARROW_TYPES[c.kind]) for c, v in columns}
        )
    return out


def pairs_of(*rows: tuple[int, int, date]) -> pa.Table:
    c, o, d = zip(*rows, strict=True)
    return pa.table(
        {
            "customer_id": pa.array(c, pa.int64()),
            "offer_id": pa.array(o, pa.int64()),
            "as_of": pa.array(d, pa.date32()),
        }
    )


def one_row(table: pa.Table, i: int = 0) -> dict[str, float]:
    return {k: v[i] for k, v in table.select(list(FEATURE_COLUMNS)).to_pydict().items()}


BASE = dict(
    customers=[(1, "restaurant", None), (2, "hotel", None)],
    products=[(10, "veg", 1, 1, 0, 2.0, 1.0), (20, "dairy", 0, 3, 1, 10.0, 6.0)],
    offers=[
        (1000, 10, "2024-03-01", "2024-04-10", 0.2, None),
        (1001, 20, "2024-03-01", "2024-04-10", 0.3, "hotel"),
    ],
)


@pytest.mark.parametrize("plan", [WINDOW_PLAN, JOIN_PLAN, SINGLE_PLAN])
def test_golden_fixture_is_reproduced_exactly(tmp_path: Path, plan: str) -> None:
    db = tmp_path / "golden.db"
    with sqlite3.connect(db) as con:
        con.executescript(GOLDEN_STORE.read_text())
    expected = pacsv.read_csv(GOLDEN_EXPECTED)
    pairs = expected.select(["customer_id", "offer_id", "as_of"])
    got = compute_features(connect_store(db), pairs, plan=plan)
    assert got.column_names == ["customer_id", "offer_id", "as_of", *FEATURE_COLUMNS]
    keys = ["customer_id", "offer_id", "as_of"]
    assert got.select(keys).to_pylist() == expected.select(keys).to_pylist()
    for name in FEATURE_COLUMNS:
        np.testing.assert_allclose(
            got[name].to_numpy(), expected[name].to_numpy(), rtol=0, atol=1e-9, err_msg=name
        )


def test_feature_columns_are_the_22_of_the_contract_in_order() -> None:
    header = GOLDEN_EXPECTED.read_text().splitlines()[0].split(",")
    assert tuple(header[3:]) == FEATURE_COLUMNS
    assert len(FEATURE_COLUMNS) == 22


def test_customer_without_history_gets_recency_l_plus_1_and_zeros() -> None:
    con = engine_from_arrow(make_tables(**BASE))
    row = one_row(compute_features(con, pairs_of((2, 1000, T), (2, 1001, T)), lookback_days=30))
    assert row["recency_days"] == 31 and row["days_since_last_cat_purchase"] == 31
    customer = [
        "frequency",
        "monetary",
        "promo_affinity",
        "avg_basket_size",
        "category_entropy",
        "category_affinity_score",
        "bought_product_before",
        "price_sensitivity_match",
    ]
    assert all(row[k] == 0.0 for k in customer)
    assert row["discount_depth_vs_usual"] == pytest.approx(0.2)
    assert row["business_type_match"] == 1.0
    assert row["days_until_expiry"] == 9
    assert row["margin_impact"] == pytest.approx((2.0 * 0.8 - 1.0) / 2.0)


def test_window_bounds_are_t_minus_l_inclusive_and_t_exclusive() -> None:
    orders = [
        (1, 1, "2024-03-22", 0, None),  # T - 10 = first day of W: in
        (2, 1, "2024-03-21", 0, None),  # T - 11: out
        (3, 1, "2024-04-01", 0, None),  # T: out
        (4, 1, "2024-03-31 23:59:59", 1, None),
    ]  # timestamp on T - 1: in, by its day
    items = [
        (1, 10, 1.0, 2.0, 0),
        (2, 10, 5.0, 2.0, 0),
        (3, 20, 7.0, 10.0, 1),
        (4, 20, 2.0, 5.0, 1),
    ]
    con = engine_from_arrow(make_tables(**BASE, orders=orders, order_items=items))
    row = one_row(compute_features(con, pairs_of((1, 1000, T)), lookback_days=10))
    assert row["frequency"] == 2 and row["recency_days"] == 1
    assert row["monetary"] == pytest.approx(1 * 2.0 + 2 * 5.0)
    assert row["business_order_ratio"] == 0.5 and row["promo_affinity"] == 0.5
    assert row["avg_basket_quantity"] == pytest.approx(1.5)
    assert row["days_since_last_cat_purchase"] == 10  # veg last bought on T - 10
    assert row["bought_product_before"] == 1.0 and row["category_affinity_score"] == 0.5
    assert row["category_entropy"] == pytest.approx(math.log(2))
    assert row["tier3_purchase_ratio"] == 0.5 and row["fresh_category_ratio"] == 0.5
    assert row["discount_depth_vs_usual"] == pytest.approx(0.2 - (0.0 + 0.5) / 2)
    assert row["price_sensitivity_match"] == 0.5  # tier 1 offer, half the lines tier 1


def test_a_timestamp_dated_t_is_excluded() -> None:
    orders = [(1, 1, "2024-04-01 00:00:01", 0, None)]
    con = engine_from_arrow(make_tables(**BASE, orders=orders, order_items=[(1, 10, 1, 2.0, 0)]))
    row = one_row(compute_features(con, pairs_of((1, 1000, T))))
    assert row["frequency"] == 0 and row["recency_days"] == 91


def test_empty_denominators_give_zero_and_nothing_is_null() -> None:
    orders = [(1, 1, "2024-03-30", 1, None)]  # an order without lines
    con = engine_from_arrow(make_tables(**BASE, orders=orders))
    out = compute_features(con, pairs_of((1, 1000, T), (1, 1001, T), (99, 5555, T)))
    row = one_row(out)
    assert row["frequency"] == 1 and row["business_order_ratio"] == 1.0
    assert row["avg_basket_size"] == 0 and row["promo_affinity"] == 0
    assert row["category_affinity_score"] == 0 and row["tier2_purchase_ratio"] == 0
    assert one_row(out, 1)["business_type_match"] == 0.0  # offer targets hotels
    assert all(out.column(c).null_count == 0 for c in out.column_names)
    assert all(out.schema.field(c).type == pa.float64() for c in FEATURE_COLUMNS)


def test_output_keeps_input_order_and_duplicates() -> None:
    orders = [
        (1, 1, "2024-03-30", 1, None),
        (2, 2, "2024-02-01", 0, None),
        (3, 1, "2024-02-15", 0, None),
    ]
    items = [(1, 10, 2, 2.0, 0), (2, 20, 1, 10.0, 1), (3, 10, 1, 2.0, 0)]
    con = engine_from_arrow(make_tables(**BASE, orders=orders, order_items=items))
    keys = [(2, 1001, T), (1, 1000, T), (2, 1001, T), (1, 1001, date(2024, 3, 1)), (1, 1000, T)]
    out = compute_features(con, pairs_of(*keys))
    got = zip(*(out[c].to_pylist() for c in ("customer_id", "offer_id", "as_of")), strict=True)
    assert list(got) == keys
    assert one_row(out, 0) == one_row(out, 2) and one_row(out, 1) == one_row(out, 4)
    assert one_row(out, 3)["frequency"] == 1  # as of March 1st only order 3 was placed
    assert one_row(out, 4)["frequency"] == 2


def test_historical_redemption_rate_uses_mature_labels_and_the_label_window() -> None:
    impressions = [(1, 1, 1000, "2024-03-01", None, None), (2, 2, 1000, "2024-03-01", None, None)]
    redemptions = [(1, 1, 1000, "2024-03-09", None)]  # s + 8
    con = engine_from_arrow(make_tables(**BASE, impressions=impressions, redemptions=redemptions))
    pairs = pairs_of((1, 1000, T), (1, 1001, T))
    seven = compute_features(con, pairs)["historical_redemption_rate"].to_pylist()
    assert seven == [0.0, 0.0]  # both negative with a 7-day window
    eight = compute_features(con, pairs, label_window_days=8)["historical_redemption_rate"]
    assert eight.to_pylist() == pytest.approx([(1 + 20 * 0.5) / 22, 0.5])


def test_empty_pairs_give_an_empty_typed_table() -> None:
    con = engine_from_arrow(make_tables(**BASE))
    out = compute_features(con, pairs_of((1, 1000, T)).slice(0, 0))
    assert out.num_rows == 0 and out.column_names[3:] == list(FEATURE_COLUMNS)


def test_missing_contract_column_is_refused() -> None:
    tables = make_tables(**BASE)
    tables["orders"] = tables["orders"].drop_columns(["is_business"])
    with pytest.raises(ContractViolation, match="orders.*is_business"):
        engine_from_arrow(tables)


def test_since_skips_old_orders_but_not_impressions(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with sqlite3.connect(db) as con:
        con.executescript(GOLDEN_STORE.read_text())
    engine = connect_store(db, since=date(2024, 1, 2))
    days = engine.sql("SELECT MIN(order_date), COUNT(*) FROM orders").fetchall()[0]
    assert days == (date(2024, 1, 2), 5)
    assert engine.sql("SELECT COUNT(*) FROM order_items").fetchall()[0][0] == 7
    assert engine.sql("SELECT SUM(label) FROM impression_labels").fetchall()[0][0] == 3


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=300).flatmap(
        lambda n: st.tuples(st.permutations(range(n)), st.lists(st.integers(0, n), max_size=6))
    ),
    st.booleans(),
    st.sampled_from([0, 1, 8, MAX_ORDER_RUNS]),
)
def test_rows_come_back_in_row_id_order_whatever_order_the_join_gave(
    case: tuple[list[int], list[int]], few_runs: bool, max_runs: int
) -> None:
    perm, cuts = case
    if few_runs:  # the usual shape: a few runs of consecutive ids, shuffled
        bounds = sorted({0, len(perm), *cuts})
        runs = [list(range(a, b)) for a, b in itertools.pairwise(bounds)]
        perm = [i for run in reversed(runs) for i in run]
    table = pa.table({"row_id": pa.array(perm, pa.int64()), "v": pa.array(perm, pa.float64())})
    out = ordered_by_row_id(table, max_runs)  # slices, or one gather past max_runs
    assert out.column("row_id").to_pylist() == list(range(len(perm)))
    assert out.column("v").to_pylist() == [float(i) for i in range(len(perm))]


def test_an_extra_feature_is_one_sql_file_and_one_line_of_registration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feature_package import extra_feature_set, write_package

    write_package(tmp_path, monkeypatch)
    features = extra_feature_set()
    impressions = [
        (1, 1, 1000, "2024-03-20", None, None),
        (2, 1, 1001, "2024-03-31", None, None),
        (3, 1, 1000, "2024-04-01", None, None),  # on T itself: not before T
        (4, 2, 1001, "2024-03-25", None, None),
    ]
    con = engine_from_arrow(make_tables(**BASE, impressions=impressions))
    out = compute_features(
        con, pairs_of((1, 1000, T), (2, 1001, T), (1, 1001, T)), feature_set=features
    )
    assert out.column_names == ["customer_id", "offer_id", "as_of", *features.columns]
    assert out.column("offers_seen_before").to_pylist() == [2.0, 1.0, 2.0]
    assert out.select(list(FEATURE_COLUMNS)).equals(
        compute_features(con, pairs_of((1, 1000, T), (2, 1001, T), (1, 1001, T))).select(
            list(FEATURE_COLUMNS)
        )
    )
