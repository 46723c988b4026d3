"""Contract validation on Arrow tables and on stores: types are parsed, never coerced;
every rule is reported with its table, column, count and a few offending keys."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offerrank.errors import ContractViolation
from offerrank.store.check.validate import validate_store, validate_tables
from offerrank.store.check.violations import Violation, raise_on_violations
from reliability_ledger import LEDGER

FIXTURES = Path(__file__).parent / "fixtures"


def golden_store(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript((FIXTURES / "golden_store.sql").read_text())
    con.close()
    return path


def products(**overrides: list) -> pa.Table:
    columns = {
        "product_id": ["1", "2"],
        "category": ["veg", "dairy"],
        "is_fresh": ["1", "0"],
        "price_tier": ["1", "3"],
        "is_own_brand": ["0", "1"],
        "list_price": ["2.5", "10"],
        "unit_cost": ["1", "0"],
    }
    return pa.table({**columns, **overrides})


def broken(violations: list[Violation]) -> set[tuple[str, str, str, int]]:
    return {(v.table, v.column, v.rule, v.count) for v in violations}


def test_violation_line_and_exception_text() -> None:
    v = Violation(
        "order_items",
        "quantity",
        "> 0",
        3,
        ["order_id=17, product_id=4", "order_id=18, product_id=4"],
    )
    assert v.line() == (
        'order_items.quantity: rule "> 0" broken by 3 rows '
        "(e.g. order_id=17, product_id=4; order_id=18, product_id=4)"
    )
    raise_on_violations([])
    with pytest.raises(ContractViolation) as err:
        raise_on_violations(
            [v, Violation("orders", "", "not empty", 0, note="orders.csv is empty")]
        )
    lines = str(err.value).splitlines()
    assert lines[0] == "order_items, orders: data contract violated (2 problems)"
    assert lines[1:] == [f"  {v.line()}", "  orders: orders.csv is empty"]


TYPES = [  # (table column, value, accepted)
    ("product_id", "17", True),
    ("product_id", " -3 ", True),
    ("product_id", "17.0", True),
    ("product_id", str(2**62), True),
    ("product_id", "17.5", False),
    ("product_id", "1e3", False),
    ("product_id", "abc", False),
    ("product_id", "0x10", False),
    ("product_id", "99999999999999999999", False),
    ("unit_cost", "1.5", True),
    ("unit_cost", ".5", True),
    ("unit_cost", "1e-3", True),
    ("unit_cost", "nan", False),
    ("unit_cost", "inf", False),
    ("unit_cost", "1,5", False),
    ("unit_cost", "1_000", False),
    ("unit_cost", "€3", False),
    ("is_fresh", "0", True),
    ("is_fresh", "1.0", True),
    ("is_fresh", "2", False),
    ("is_fresh", "-1", False),
    ("is_fresh", "true", False),
    ("is_fresh", "yes", False),
]


@pytest.mark.parametrize(("column", "value", "accepted"), TYPES)
def test_numbers_and_flags_are_parsed_not_coerced(column: str, value: str, accepted: bool) -> None:
    found = validate_tables(
        {"products": products(**{column: [value, "1" if column == "is_fresh" else "2"]})}
    )
    rule = {"product_id": "integer", "unit_cost": "number", "is_fresh": "0 or 1"}[column]
    assert (not any(v.rule == rule for v in found)) == accepted, found
    if not accepted:
        assert value.strip() in found[0].line() or column == "product_id"
        LEDGER.bad_input(f"value {column}={value!r}")


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("2024-02-29", True),
        ("2024-03-01 18:30:00", True),
        ("2024-03-01T18:30:00Z", True),
        ("2024-03-01 18:30", True),
        ("2023-02-29", False),
        ("2024-3-1", False),
        ("20240301", False),
        ("2024-03-01 25:00:00", False),
        ("01/03/2024", False),
        ("2024-03-01x", False),
    ],
)
def test_dates_accept_timestamps_and_refuse_non_dates(value: str, accepted: bool) -> None:
    table = pa.table({"customer_id": [1], "business_type": ["hotel"], "signup_date": [value]})
    found = validate_tables({"customers": table})
    assert (found == []) == accepted, found
    if not accepted:
        assert broken(found) == {("customers", "signup_date", "date YYYY-MM-DD", 1)}
        assert f"customer_id=1 (signup_date={value})" in found[0].line()
        LEDGER.bad_input(f"date {value!r}")


def test_typed_arrow_tables_and_missing_references() -> None:
    orders = pa.table(
        {
            "order_id": pa.array([1, 2], pa.int32()),
            "customer_id": [5, None],
            "order_date": pa.array([0, 1], pa.date32()),
            "is_business": [True, False],
            "store_id": pa.array([None, None], pa.int64()),
        }
    )
    found = validate_tables({"orders": orders, "custmers": products()})
    assert broken(found) == {
        ("custmers", "", "known table", 0),
        ("orders", "customer_id", "not null", 1),
        ("orders", "customer_id", "references customers.customer_id", 1),
    }
    customers = pa.table({"customer_id": [5], "business_type": ["x"], "signup_date": [None]})
    LEDGER.bad_input("Arrow tables: unknown table, null and dangling reference")
    orders = orders.set_column(1, "customer_id", pa.array([5, 5]))
    assert validate_tables({"orders": orders, "customers": customers}) == []


def test_references_resolve_into_the_store(tmp_path: Path) -> None:
    db = golden_store(tmp_path / "s.db")
    orders = pa.table(
        {
            "order_id": [900],
            "customer_id": [3],
            "order_date": ["2024-05-01"],
            "is_business": [0],
            "store_id": [None],
        }
    )
    assert validate_tables({"orders": orders}, existing_db=db) == []
    assert broken(validate_tables({"orders": orders})) == {
        ("orders", "customer_id", "references customers.customer_id", 1)
    }
    clash = orders.set_column(0, "order_id", pa.array([100]))  # stored: 1, 2024-03-25, 1
    assert broken(validate_tables({"orders": clash}, existing_db=db)) == {
        ("orders", "customer_id", "same as the stored row (conflicts with the store)", 1),
        ("orders", "order_date", "same as the stored row (conflicts with the store)", 1),
        ("orders", "is_business", "same as the stored row (conflicts with the store)", 1),
    }
    LEDGER.bad_input("append conflicting with the store")


def test_golden_store_is_valid(tmp_path: Path) -> None:
    assert validate_store(golden_store(tmp_path / "s.db")) == []


def test_validate_store_finds_corruption_written_with_sqlite(tmp_path: Path) -> None:
    db = golden_store(tmp_path / "s.db")
    con = sqlite3.connect(db)
    con.executescript("""
        UPDATE order_items SET quantity = 'abc' WHERE order_id = 100 AND product_id = 10;
        UPDATE order_items SET unit_price = -1 WHERE order_id = 101;
        UPDATE products SET list_price = 0 WHERE product_id = 20;
        UPDATE products SET is_fresh = 7 WHERE product_id = 30;
        UPDATE offers SET end_date = '2024-01-01' WHERE offer_id = 1000;
        UPDATE customers SET business_type = NULL WHERE customer_id = 3;
        UPDATE impressions SET propensity = 0 WHERE impression_id = 2;
        INSERT INTO orders VALUES (900, 77, '2024-02-30', 1, 2.5);
    """)
    con.commit()
    con.close()
    found = validate_store(db)
    assert broken(found) == {
        ("order_items", "quantity", "number", 1),
        ("order_items", "unit_price", ">= 0", 2),
        ("products", "list_price", "> 0", 1),
        ("products", "is_fresh", "0 or 1", 1),
        ("offers", "end_date", "start_date <= end_date", 1),
        ("customers", "business_type", "not null", 1),
        ("impressions", "propensity", "0 < x <= 1", 1),
        ("orders", "order_date", "date YYYY-MM-DD", 1),
        ("orders", "store_id", "integer", 1),
        ("orders", "customer_id", "references customers.customer_id", 1),
    }
    lines = {v.column: v.line() for v in found if v.table == "order_items"}
    assert lines["quantity"] == (
        'order_items.quantity: rule "number" broken by 1 row '
        "(e.g. order_id=100, product_id=10 (quantity=abc))"
    )
    LEDGER.bad_input("store corrupted with sqlite3")


def test_validate_store_reports_missing_tables_and_columns(tmp_path: Path) -> None:
    db = golden_store(tmp_path / "s.db")
    con = sqlite3.connect(db)
    con.executescript("DROP TABLE redemptions; ALTER TABLE offers DROP COLUMN discount_pct;")
    con.close()
    found = broken(validate_store(db))
    assert ("redemptions", "", "table present", 0) in found
    assert ("offers", "discount_pct", "column present", 0) in found
    LEDGER.bad_input("store missing a table and a column")


def test_store_columns_are_read_losslessly_whatever_comes_first(tmp_path: Path) -> None:
    """Thousands of NULL propensities before the first number, mixed ints and reals."""
    db = golden_store(tmp_path / "s.db")
    con = sqlite3.connect(db)
    con.execute("""WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s
                                               WHERE value < 3010)
        INSERT INTO impressions SELECT value + 100, 1, 1000, '2024-03-02', NULL,
            CASE WHEN value > 3000 THEN 1.0 / value END FROM s""")
    con.commit()
    con.close()
    assert validate_store(db) == []


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=20)
)
def test_a_discount_is_refused_exactly_when_outside_0_1(values: list[float]) -> None:
    n = len(values)
    offers = pa.table(
        {
            "offer_id": list(range(n)),
            "product_id": [1] * n,
            "start_date": ["2024-01-01"] * n,
            "end_date": ["2024-01-02"] * n,
            "discount_pct": [repr(v) for v in values],
            "target_business_type": [None] * n,
        }
    )
    products_ = products(product_id=["1", "2"])
    found = validate_tables({"offers": offers, "products": products_})
    outside = sum(not 0 < v < 1 for v in values)
    assert broken(found) == (
        {("offers", "discount_pct", "0 < x < 1", outside)} if outside else set()
    )
