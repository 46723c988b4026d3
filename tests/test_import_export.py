"""Import and export: every bad input is refused and leaves the store untouched; good
input appends without duplicates; export then import gives the same tables."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from offerrank.cli.main import app
from offerrank.errors import ContractViolation, OfferrankError
from offerrank.store.contract import INPUT_TABLES
from offerrank.store.ingest import io
from offerrank.store.ingest.io import export_dir, import_dir
from reliability_ledger import LEDGER, rows_differing, store_rows

FIXTURES = Path(__file__).parent / "fixtures"
H = {  # CSV headers
    "customers": "customer_id,business_type,signup_date",
    "products": "product_id,category,is_fresh,price_tier,is_own_brand,list_price,unit_cost",
    "orders": "order_id,customer_id,order_date,is_business,store_id",
    "order_items": "order_id,product_id,quantity,unit_price,is_promo",
    "offers": "offer_id,product_id,start_date,end_date,discount_pct,target_business_type",
    "impressions": "impression_id,customer_id,offer_id,shown_date,channel,propensity",
    "redemptions": "redemption_id,customer_id,offer_id,redeemed_date,order_id",
}


def golden_store(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript((FIXTURES / "golden_store.sql").read_text())
    con.close()
    return path


def feed(tmp_path: Path) -> Path:
    folder = tmp_path / "feed"
    shutil.copytree(FIXTURES / "feed", folder)
    return folder


def rows(db: Path, table: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        return con.execute(f"SELECT * FROM {table} ORDER BY {', '.join(cols)}").fetchall()
    finally:
        con.close()


def digest(db: Path) -> str:
    """Every table's schema and sorted content: equal digests mean equal stores."""
    con = sqlite3.connect(db)
    schema = con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    con.close()
    h = hashlib.sha256(repr(schema).encode())
    for _, name, _ in schema:
        if _ == "table":
            h.update(repr(rows(db, name)).encode())
    return h.hexdigest()


def write(folder: Path, name: str, *lines: str) -> None:
    (folder / name).write_text("\n".join(lines) + "\n" if lines else "")


# -- bad input: refused, message names table/column/rule, store unchanged ------------------
BAD = {
    "missing column": (
        "orders.csv",
        ["order_id,customer_id,is_business,store_id", "300,4,1,7"],
        ["orders.order_date", "column missing", "orders.csv"],
    ),
    "wrong type": (
        "order_items.csv",
        [H["order_items"], "300,40,abc,3.5,0"],
        ["order_items.quantity", '"number"', "order_id=300, product_id=40", "abc"],
    ),
    "id not an integer": (
        "orders.csv",
        [H["orders"], "300.5,4,2024-04-02,1,7"],
        ["orders.order_id", '"integer"', "order_id=300.5"],
    ),
    "duplicate key": (
        "customers.csv",
        [H["customers"], "4,hotel,", "4,office,"],
        ["customers.customer_id", '"unique key"', "customer_id=4"],
    ),
    "dangling reference": (
        "orders.csv",
        [H["orders"], "300,4,2024-04-02,1,7", "301,99,2024-04-02,0,"],
        ["orders.customer_id", "references customers.customer_id", "order_id=301"],
    ),
    "dangling offer": (
        "impressions.csv",
        [H["impressions"], "8,4,5555,2024-04-02,email,0.5"],
        ["impressions.offer_id", "references offers.offer_id", "impression_id=8"],
    ),
    "dangling order": (
        "redemptions.csv",
        [H["redemptions"], "5,4,1003,2024-04-02,777"],
        ["redemptions.order_id", "references orders.order_id"],
    ),
    "quantity zero": (
        "order_items.csv",
        [H["order_items"], "300,40,0,3.5,0"],
        ["order_items.quantity", '"> 0"', "order_id=300, product_id=40"],
    ),
    "quantity negative": (
        "order_items.csv",
        [H["order_items"], "300,40,-2,3.5,0"],
        ["order_items.quantity", '"> 0"'],
    ),
    "end before start": (
        "offers.csv",
        [H["offers"], "1003,40,2024-04-09,2024-04-02,0.2,"],
        ["offers.end_date", "start_date <= end_date", "offer_id=1003"],
    ),
    "discount 1": (
        "offers.csv",
        [H["offers"], "1003,40,2024-04-02,2024-04-09,1.0,"],
        ["offers.discount_pct", '"0 < x < 1"', "offer_id=1003"],
    ),
    "discount 0": (
        "offers.csv",
        [H["offers"], "1003,40,2024-04-02,2024-04-09,0,"],
        ["offers.discount_pct", '"0 < x < 1"'],
    ),
    "unparseable date": (
        "orders.csv",
        [H["orders"], "300,4,2024-13-45,1,7"],
        ["orders.order_date", '"date YYYY-MM-DD"', "2024-13-45", "order_id=300"],
    ),
    "day out of month": (
        "impressions.csv",
        [H["impressions"], "8,4,1003,2024-02-30,email,0.5"],
        ["impressions.shown_date", "2024-02-30"],
    ),
    "empty file": ("impressions.csv", [], ["impressions", "empty"]),
    "header only": ("impressions.csv", [H["impressions"]], ["impressions", "no rows"]),
    "unknown table": (
        "custmers.csv",
        [H["customers"], "9,hotel,"],
        ["custmers", "unknown table", "custmers.csv", "customers, products"],
    ),
    "null in not-null": (
        "customers.csv",
        [H["customers"], "4,,2024-04-01"],
        ["customers.business_type", '"not null"', "customer_id=4"],
    ),
    "flag not 0/1": (
        "orders.csv",
        [H["orders"], "300,4,2024-04-02,2,7"],
        ["orders.is_business", '"0 or 1"', "order_id=300"],
    ),
    "price_tier 4": (
        "products.csv",
        [H["products"], "40,bakery,1,4,0,3.5,1.2"],
        ["products.price_tier", '"in (1, 2, 3)"', "product_id=40"],
    ),
    "negative unit_cost": (
        "products.csv",
        [H["products"], "40,bakery,1,2,0,3.5,-0.1"],
        ["products.unit_cost", '">= 0"', "product_id=40"],
    ),
    "list_price 0": (
        "products.csv",
        [H["products"], "40,bakery,1,2,0,0,1.2"],
        ["products.list_price", '"> 0"'],
    ),
    "nan price": (
        "products.csv",
        [H["products"], "40,bakery,1,2,0,nan,1.2"],
        ["products.list_price", '"number"', "nan"],
    ),
    "propensity > 1": (
        "impressions.csv",
        [H["impressions"], "8,4,1003,2024-04-02,email,1.5"],
        ["impressions.propensity", '"0 < x <= 1"', "impression_id=8"],
    ),
    "key conflicts with store": (
        "customers.csv",
        [H["customers"], "1,hotel,"],
        [
            "customers.business_type",
            "conflicts with the store",
            "customer_id=1",
            "file hotel, store restaurant",
        ],
    ),
    "stored key, new date": (
        "orders.csv",
        [H["orders"], "300,4,2024-04-02,1,7", "100,1,2024-03-26,1,"],
        ["orders.order_date", "conflicts with the store", "order_id=100"],
    ),
    "items of a stored order": (
        "order_items.csv",
        [H["order_items"], "100,10,2,2.0,0"],
        ["order_items.order_id", "conflicts with the store", "order_id=100, product_id=10"],
    ),
    "unsupported format": ("customers.xlsx", ["whatever"], ["customers", "unsupported format"]),
    "malformed csv": (
        "customers.csv",
        [H["customers"], "4,hotel,2024-04-01,extra"],
        ["customers", "cannot read customers.csv"],
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_is_refused_and_store_unchanged(tmp_path: Path, case: str) -> None:
    name, lines, expected = BAD[case]
    db, folder = golden_store(tmp_path / "s.db"), feed(tmp_path)
    write(folder, name, *lines)
    before = digest(db)
    before_rows = store_rows(db)
    with pytest.raises(ContractViolation) as err:
        import_dir(db, folder)
    message = str(err.value)
    assert "data contract violated" in message.splitlines()[0]
    for fragment in expected:
        assert fragment in message, message
    assert digest(db) == before
    LEDGER.rows_lost(rows_differing(before_rows, store_rows(db)))
    LEDGER.bad_input(f"import: {case}")


def test_refused_import_into_new_store_leaves_no_file(tmp_path: Path) -> None:
    folder = feed(tmp_path)  # references into the golden store, absent here
    with pytest.raises(ContractViolation, match="references customers.customer_id"):
        import_dir(tmp_path / "new.db", folder)
    assert not list(tmp_path.glob("new.db*"))
    LEDGER.bad_input("import into a new store: dangling references")


def test_two_files_for_one_table_are_refused(tmp_path: Path) -> None:
    db, folder = golden_store(tmp_path / "s.db"), feed(tmp_path)
    pq.write_table(
        pa.table({"customer_id": [4], "business_type": ["hotel"], "signup_date": [None]}),
        folder / "customers.parquet",
    )
    with pytest.raises(ContractViolation, match="two files for one table"):
        import_dir(db, folder)
    LEDGER.bad_input("import: two files for one table")


def test_a_crash_mid_import_leaves_the_store_as_before(tmp_path: Path, monkeypatch) -> None:
    db, folder = golden_store(tmp_path / "s.db"), feed(tmp_path)
    before = digest(db)

    def failing_insert(con, table, data):
        if table == "products":  # customers are written by then
            raise KeyboardInterrupt
        return real(con, table, data)

    real = io.insert_arrow
    monkeypatch.setattr(io, "insert_arrow", failing_insert)
    with pytest.raises(KeyboardInterrupt):
        import_dir(db, folder)
    assert digest(db) == before
    LEDGER.fault("interrupt in the middle of an import")
    with pytest.raises(KeyboardInterrupt):
        import_dir(tmp_path / "fresh.db", FIXTURES / "feed_dims")  # new store: removed again
    assert not list(tmp_path.glob("fresh.db*"))


def test_folder_without_table_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ContractViolation, match="no table files"):
        import_dir(tmp_path / "s.db", tmp_path / "empty")
    with pytest.raises(OfferrankError, match="not a folder"):
        import_dir(tmp_path / "s.db", tmp_path / "missing")
    LEDGER.bad_input("import: no table files")
    LEDGER.bad_input("import: not a folder")


# -- good input ---------------------------------------------------------------------------
def test_feed_appends_and_reimport_is_a_no_op(tmp_path: Path) -> None:
    db, folder = golden_store(tmp_path / "s.db"), feed(tmp_path)
    (folder / "notes.txt").write_text("other files are ignored")
    (folder / "orders.csv").write_text(
        "order_id,customer_id,order_date,is_business,store_id,extra\n"
        "300,4,2024-04-02 09:15:00,1,7,x\n301,1,2024-04-02,0,,y\n"
    )
    summary = import_dir(db, folder)
    assert summary.rows_added == 10 and not summary.created
    assert summary.as_dict()["tables"][2] == {
        "table": "orders",
        "file": "orders.csv",
        "rows_in_file": 2,
        "rows_added": 2,
    }
    assert "10 rows added" in summary.describe()
    assert (300, 4, "2024-04-02", 1, 7) in rows(db, "orders")  # the day of a timestamp
    assert (5, 4, 1003, "2024-04-02", 300) in rows(db, "redemptions")
    after = digest(db)
    again = import_dir(db, folder)
    assert again.rows_added == 0 and digest(db) == after


def test_items_may_follow_their_order_in_a_later_feed(tmp_path: Path) -> None:
    db, folder = golden_store(tmp_path / "s.db"), tmp_path / "f"
    folder.mkdir()
    write(folder, "orders.csv", H["orders"], "400,2,2024-04-03,1,")
    import_dir(db, folder)
    (folder / "orders.csv").unlink()
    write(folder, "order_items.csv", H["order_items"], "400,10,1,2,0", "400,10,1,2,0")
    assert import_dir(db, folder).rows_added == 2
    assert import_dir(db, folder).rows_added == 0  # same basket again: skipped


def test_typed_parquet_with_timestamps_and_booleans(tmp_path: Path) -> None:
    db, folder = golden_store(tmp_path / "s.db"), tmp_path / "f"
    folder.mkdir()
    pq.write_table(
        pa.table(
            {
                "order_id": pa.array([500], pa.int32()),
                "customer_id": [2],
                "order_date": pa.array([datetime(2024, 4, 5, 18, 30)], pa.timestamp("s")),
                "is_business": [True],
                "store_id": pa.array([None], pa.int64()),
            }
        ),
        folder / "orders.pq",
    )
    assert import_dir(db, folder).rows_added == 1
    assert (500, 2, "2024-04-05", 1, None) in rows(db, "orders")


def test_cli_import_refuses_with_exit_code_1(tmp_path: Path) -> None:
    db, folder = golden_store(tmp_path / "s.db"), feed(tmp_path)
    write(folder, "order_items.csv", H["order_items"], "300,40,0,3.5,0")
    result = CliRunner().invoke(app, ["--db", str(db), "import", str(folder)])
    assert result.exit_code == 1
    first = result.output.strip().splitlines()[0]
    assert "error:" in first and "order_items" in first
    assert 'order_items.quantity: rule "> 0" broken by 1 row' in result.output
    LEDGER.bad_input("CLI import: bad quantity")


def test_cli_import_and_export(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    ok = CliRunner().invoke(app, ["--db", str(db), "--json", "import", str(FIXTURES / "feed_dims")])
    assert ok.exit_code == 0, ok.output
    assert '"rows_added": 5' in ok.output
    out = CliRunner().invoke(
        app, ["--db", str(db), "export", str(tmp_path / "x"), "--format", "csv"]
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "x" / "customers.csv").read_text().count("\n") == 4


# -- round trip and append ----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_then_import_gives_identical_tables(tmp_path: Path, fmt: str) -> None:
    golden = golden_store(tmp_path / "golden.db")
    summary = export_dir(golden, tmp_path / "a", fmt)
    assert summary.rows["orders"] == 7 and sorted(
        p.name for p in (tmp_path / "a").iterdir()
    ) == sorted(f"{t.name}.{fmt}" for t in INPUT_TABLES)
    first = tmp_path / "first.db"
    import_dir(first, tmp_path / "a")
    for t in INPUT_TABLES:  # the same, except that a timestamp keeps only its day
        expected = rows(golden, t.name)
        if t.name == "orders":
            expected = sorted((o, c, d[:10], b, s) for o, c, d, b, s in expected)
        assert rows(first, t.name) == expected
    export_dir(first, tmp_path / "b", fmt)
    second = tmp_path / "second.db"
    import_dir(second, tmp_path / "b")
    assert digest(second) == digest(first)


def test_round_trip_keeps_every_bit_of_numbers(tmp_path: Path) -> None:
    db, folder = tmp_path / "s.db", tmp_path / "f"
    folder.mkdir()
    write(
        folder,
        "products.csv",
        H["products"],
        f"{2**62},x,0,1,0,{0.1 + 0.2!r},{1 / 3!r}",
        "7,y,1,3,1,1e-300,0",
    )
    import_dir(db, folder)
    for fmt in ("csv", "parquet"):
        export_dir(db, tmp_path / fmt, fmt)
        again = tmp_path / f"{fmt}.db"
        import_dir(again, tmp_path / fmt)
        assert rows(again, "products") == rows(db, "products")
    assert rows(db, "products")[1] == (2**62, "x", 0, 1, 0, 0.1 + 0.2, 1 / 3)


def synthetic_history(days: int, seed: int) -> dict[str, pa.Table]:
    """A small valid history over `days` days; every event dated on or after its parents."""
    rng = np.random.default_rng(seed)
    start = date(2024, 1, 1)
    day = lambda d: [(start + timedelta(days=int(x))).isoformat() for x in d]  # noqa: E731
    n_orders, n_off, n_imp = 6 * days, days, 4 * days
    o_day = np.sort(rng.integers(0, days, n_orders))
    off_start = np.sort(rng.integers(0, days, n_off))
    imp = rng.integers(0, n_off, n_imp)
    imp_day = off_start[imp] + rng.integers(0, 3, n_imp)
    keep = imp_day < days
    items = np.repeat(np.arange(n_orders), 2)
    return {
        "customers": pa.table(
            {
                "customer_id": np.arange(1, 6),
                "business_type": ["hotel"] * 5,
                "signup_date": [None] * 5,
            }
        ),
        "products": pa.table(
            {
                "product_id": np.arange(1, 5),
                "category": list("abcd"),
                "is_fresh": [0, 1, 0, 1],
                "price_tier": [1, 2, 3, 1],
                "is_own_brand": [0, 0, 1, 1],
                "list_price": [1.5, 2.0, 9.9, 0.4],
                "unit_cost": [1.0, 1.0, 5.0, 0.0],
            }
        ),
        "orders": pa.table(
            {
                "order_id": np.arange(n_orders) + 100,
                "customer_id": rng.integers(1, 6, n_orders),
                "order_date": day(o_day),
                "is_business": rng.integers(0, 2, n_orders),
                "store_id": [None] * n_orders,
            }
        ),
        "order_items": pa.table(
            {
                "order_id": items + 100,
                "product_id": rng.integers(1, 5, len(items)),
                "quantity": rng.integers(1, 4, len(items)) * 0.5,
                "unit_price": rng.random(len(items)),
                "is_promo": [0] * len(items),
            }
        ),
        "offers": pa.table(
            {
                "offer_id": np.arange(n_off) + 1000,
                "product_id": rng.integers(1, 5, n_off),
                "start_date": day(off_start),
                "end_date": day(off_start + 5),
                "discount_pct": [0.1] * n_off,
                "target_business_type": [None] * n_off,
            }
        ),
        "impressions": pa.table(
            {
                "impression_id": np.arange(int(keep.sum())),
                "customer_id": rng.integers(1, 6, int(keep.sum())),
                "offer_id": imp[keep] + 1000,
                "shown_date": day(imp_day[keep]),
                "channel": ["app"] * int(keep.sum()),
                "propensity": rng.uniform(0.05, 1, int(keep.sum())),
            }
        ),
        "redemptions": pa.table(
            {
                "redemption_id": np.arange(n_orders // 3),
                "customer_id": rng.integers(1, 6, n_orders // 3),
                "offer_id": np.zeros(n_orders // 3, int) + 1000,
                "redeemed_date": day(np.maximum(o_day[::3], off_start[0])),
                "order_id": np.arange(0, n_orders, 3) + 100,
            }
        ),
    }


def split(tables: dict[str, pa.Table], cut: str) -> tuple[dict, dict]:
    """Events before `cut` (with every dimension), and the rest; items follow their order."""
    import pyarrow.compute as pc

    dates = {
        "orders": "order_date",
        "offers": "start_date",
        "impressions": "shown_date",
        "redemptions": "redeemed_date",
    }
    early, late = {"customers": tables["customers"], "products": tables["products"]}, {}
    for name, col in dates.items():
        mask = pc.less(tables[name][col], cut)
        early[name], late[name] = tables[name].filter(mask), tables[name].filter(pc.invert(mask))
    in_early = pc.is_in(tables["order_items"]["order_id"], early["orders"]["order_id"])
    early["order_items"] = tables["order_items"].filter(in_early)
    late["order_items"] = tables["order_items"].filter(pc.invert(in_early))
    return early, late


def to_folder(tables: dict[str, pa.Table], folder: Path, fmt: str = "csv") -> Path:
    import pyarrow.csv as pacsv

    folder.mkdir()
    for name, data in tables.items():
        if data.num_rows:  # an empty file would be refused: leave it out
            if fmt == "csv":
                pacsv.write_csv(data, folder / f"{name}.csv")
            else:
                pq.write_table(data, folder / f"{name}.parquet")
    return folder


def test_days_1_to_10_then_11_to_20_equals_1_to_20(tmp_path: Path) -> None:
    tables = synthetic_history(20, seed=3)
    early, late = split(tables, "2024-01-11")
    whole, parts = tmp_path / "whole.db", tmp_path / "parts.db"
    import_dir(whole, to_folder(tables, tmp_path / "all"))
    import_dir(parts, to_folder(early, tmp_path / "early"))
    import_dir(parts, to_folder(late, tmp_path / "late", "parquet"))
    assert digest(parts) == digest(whole)
    assert import_dir(parts, tmp_path / "late").rows_added == 0
    assert digest(parts) == digest(whole)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(0, 14), seed=st.integers(0, 1000))
def test_splitting_at_any_day_imports_the_same_store(cut: int, seed: int) -> None:
    tables = synthetic_history(12, seed)
    early, late = split(tables, (date(2024, 1, 1) + timedelta(days=cut)).isoformat())
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        whole, parts = tmp_path / "whole.db", tmp_path / "parts.db"
        import_dir(whole, to_folder(tables, tmp_path / "all", "parquet"))
        import_dir(parts, to_folder(early, tmp_path / "early"))
        if any(t.num_rows for t in late.values()):
            import_dir(parts, to_folder(late, tmp_path / "late"))
        assert digest(parts) == digest(whole)
