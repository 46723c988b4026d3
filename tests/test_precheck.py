"""A run checks the store against the contract before any step, reading only new rows.

Rows written behind offerrank's back (the sqlite3 shell) are caught: new rows because
they lie above the table's watermark, updates and deletes because triggers reset it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from offerrank.config import Settings
from offerrank.errors import ContractViolation
from offerrank.pipeline.daily import STEPS, run_daily
from offerrank.store.check.incremental import StoreCheck
from offerrank.store.check.watermarks import TABLE, marks, trigger_name
from offerrank.store.ingest.io import export_dir, import_dir
from reliability_ledger import Ledger, rows_differing, store_rows
from store_shell import check, shell

FIXTURES = Path(__file__).parent / "fixtures"
NEXT_DAY = date(2026, 2, 18)  # after the session's two-day run


def golden(tmp_path: Path) -> Path:
    db = tmp_path / "s.db"
    con = sqlite3.connect(db)
    con.executescript((FIXTURES / "golden_store.sql").read_text())
    con.close()
    return db


def broken(found: StoreCheck) -> set[tuple[str, str, str]]:
    return {(v.table, v.column, v.rule) for v in found.violations}


def test_first_check_reads_everything_then_only_new_rows(tmp_path: Path) -> None:
    db = golden(tmp_path)
    first = check(db)
    assert first.violations == [] and first.rows_checked["order_items"] == 9
    assert len(first.from_start) == 7 and len(first.advanced) == 7
    again = check(db)
    assert again.rows_checked == {} and again.advanced == [] and again.from_start == []
    shell(db, "INSERT INTO orders VALUES (300, 3, '2024-04-02', 1, NULL);")
    shell(db, "INSERT INTO order_items VALUES (300, 10, 1, 2.0, 0);")
    new = check(db)
    assert new.violations == [] and new.rows_checked == {"orders": 1, "order_items": 1}
    assert new.from_start == []


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (  # a new row with a bad value
            "INSERT INTO order_items VALUES (100, 30, -2, 5.0, 0);",
            ("order_items", "quantity", "> 0"),
        ),
        (  # a new row referring to nothing
            "INSERT INTO orders VALUES (300, 99, '2024-04-02', 1, NULL);",
            ("orders", "customer_id", "references customers.customer_id"),
        ),
        (  # an old row changed
            "UPDATE products SET list_price = 0 WHERE product_id = 10;",
            ("products", "list_price", "> 0"),
        ),
        (  # an old row deleted: rows that referred to it break
            "DELETE FROM customers WHERE customer_id = 3;",
            ("impressions", "customer_id", "references customers.customer_id"),
        ),
        (  # a new row below the watermark (an explicit small key)
            "INSERT INTO offers VALUES (5, 10, '2024-03-01', '2024-02-01', 0.2, NULL);",
            ("offers", "end_date", "start_date <= end_date"),
        ),
        (  # a row whose type is wrong, written as text
            "INSERT INTO orders VALUES (301, 1, 'yesterday', 1, NULL);",
            ("orders", "order_date", "date YYYY-MM-DD"),
        ),
    ],
    ids=["bad value", "dangling reference", "update", "delete", "low key", "bad date"],
)
def test_writes_behind_our_back_are_caught(
    tmp_path: Path, sql: str, expected: tuple[str, str, str], reliability: Ledger
) -> None:
    db = golden(tmp_path)
    assert check(db).violations == []
    shell(db, sql)
    found = check(db)
    assert expected in broken(found), found.violations
    assert found.advanced == []
    assert check(db).violations, "a refused check does not advance: the next one refuses too"
    reliability.bad_input(f"store: {expected[0]}.{expected[1]} written with sqlite3")


def test_dropped_triggers_mean_a_full_recheck(tmp_path: Path) -> None:
    db = golden(tmp_path)
    check(db)
    shell(db, f"DROP TRIGGER {trigger_name('products', 'update')};")
    shell(db, "UPDATE products SET price_tier = 7 WHERE product_id = 20;")
    found = check(db)
    assert "products" in found.from_start
    assert ("products", "price_tier", "in (1, 2, 3)") in broken(found)


def test_an_import_advances_the_watermarks(tmp_path: Path, tiny_world: Path) -> None:
    export_dir(tiny_world, tmp_path / "feed")
    db = tmp_path / "new.db"
    import_dir(db, tmp_path / "feed")
    con = sqlite3.connect(db)
    highs = {t: con.execute(f"SELECT max(rowid) FROM {t}").fetchone()[0] for t in marks(con)}
    assert marks(con) == highs and len(highs) == 7
    con.close()
    assert sum(check(db).rows_checked.values()) == 0


def test_a_clean_incremental_check_reads_no_rows(tiny_world: Path, tmp_path: Path) -> None:
    """Once checked, a store whose rows did not change is not checked again: no row read."""
    db = tmp_path / "metro.db"
    shutil.copy(tiny_world, db)
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO customers VALUES (999999, 'private', NULL)")
    first = check(db)
    assert first.rows_checked == {"customers": 1}
    again = check(db)
    assert again.violations == [] and again.rows_checked == {}


def digest(db: Path) -> str:
    rows = store_rows(db, skip=frozenset({"pipeline_runs", TABLE}))
    return hashlib.sha256(repr(sorted(map(repr, rows.elements()))).encode()).hexdigest()


@pytest.fixture
def after_two_runs(two_day_run, tmp_path: Path) -> Settings:
    """A copy of the store of the session's two successful runs."""
    reference, _, _ = two_day_run
    db = tmp_path / "metro.db"
    shutil.copy(reference.db_path, db)
    return reference.model_copy(update={"db_path": db, "reports_dir": tmp_path / "reports"})


BAD_ITEM = "INSERT INTO order_items VALUES ({order}, {product}, -3, 1.0, 0);"


def bad_item(db: Path) -> str:
    con = sqlite3.connect(db)
    order, product = con.execute("SELECT order_id, product_id FROM order_items LIMIT 1").fetchone()
    con.close()
    return BAD_ITEM.format(order=order, product=product)


def test_a_bad_row_after_a_run_stops_the_next_run_before_any_step(
    after_two_runs: Settings, reliability: Ledger
) -> None:
    db = after_two_runs.db_path
    shell(db, bad_item(db))
    rows, before = store_rows(db), digest(db)
    steps: list[str] = []
    with pytest.raises(ContractViolation) as err:
        run_daily(after_two_runs, NEXT_DAY, on_step=steps.append)
    message = str(err.value)
    assert message.startswith("order_items: data contract violated (1 problem)")
    assert 'order_items.quantity: rule "> 0" broken by 1 row (e.g. order_id=' in message
    assert steps == []
    assert digest(db) == before
    with sqlite3.connect(db) as con:
        logged = con.execute(
            "SELECT step, status, detail FROM pipeline_runs WHERE run_date = ?",
            (NEXT_DAY.isoformat(),),
        ).fetchall()
    assert [(s, st) for s, st, _ in logged] == [("contract", "failed")]
    assert "order_items.quantity" in logged[0][2]
    reliability.bad_input("store: bad order line before a run")
    reliability.rows_lost(rows_differing(rows, store_rows(db)))


def test_the_cli_refuses_a_bad_store_with_exit_code_1(
    after_two_runs: Settings, reliability: Ledger
) -> None:
    db = after_two_runs.db_path
    shell(
        db, "UPDATE products SET list_price = -1 WHERE rowid = (SELECT min(rowid) FROM products);"
    )
    out = subprocess.run(
        [sys.executable, "-m", "offerrank", "--db", str(db), "run", "--date", str(NEXT_DAY)],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert out.returncode == 1, out.stderr
    assert 'products.list_price: rule "> 0" broken by 1 row' in out.stderr
    assert "Traceback" not in out.stderr
    for name in STEPS:
        assert f"{name} ..." not in out.stderr
    reliability.bad_input("store: old product updated with sqlite3, through the CLI")


def test_a_generated_world_starts_fully_checked(tiny_world: Path, tmp_path: Path) -> None:
    db = tmp_path / "metro.db"
    shutil.copy(tiny_world, db)
    con = sqlite3.connect(db)
    try:
        counts = {t: con.execute(f"SELECT max(rowid) FROM {t}").fetchone()[0] for t in marks(con)}
        assert marks(con) == counts and len(counts) == 7
    finally:
        con.close()
    first = check(db)
    assert first.violations == [] and first.rows_checked == {} and first.from_start == []
