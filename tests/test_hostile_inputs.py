"""A corpus of hostile inputs: import files, tampered stores, filesystem faults, concurrency.

Every case ends in one of three documented ways, and never in a traceback: refused
(the exit code, a message naming the file or table, the column and the rule, the store
as it was), accepted by a documented rule (compressed CSV, a time zone, a boolean flag),
or survived (a fault after which the store is whole and a rerun equals a clean run).
The suite's reliability summary counts them.
"""

from __future__ import annotations

import bz2
import contextlib
import fcntl
import gzip
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli_driver import Outcome, invoke
from offerrank.store import db as store_db
from offerrank.store.history.tables import read_store_tables
from offerrank.store.ingest import io as store_io
from reliability_ledger import LEDGER, rows_differing, store_rows
from store_shell import check, shell
from test_import_export import H, golden_store

CUSTOMER = {"customer_id": [9], "business_type": ["hotel"], "signup_date": ["2024-04-01"]}
PRODUCT = {
    "product_id": [50], "category": ["bakery"], "is_fresh": [1], "price_tier": [2],
    "is_own_brand": [0], "list_price": [3.5], "unit_cost": [1.2],
}  # fmt: skip


def csv_file(name: str, *lines: str, opener: Callable = open) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        with opener(folder / name, "wt", encoding="utf-8", newline="") as fh:
            fh.write("\n".join(lines) + "\n")

    return write


def raw_file(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(data)


def parquet(name: str, columns: dict, **types: pa.DataType) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        arrays = {k: pa.array(v, types.get(k)) for k, v in columns.items()}
        pq.write_table(pa.table(arrays), folder / name)

    return write


def replaced(base: dict, **changes: object) -> dict:
    return {**base, **changes}


def symlink(name: str, target: str) -> Callable[[Path], None]:
    return lambda folder: os.symlink(target, folder / name)


def folder_named(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).mkdir()


def both(*writers: Callable[[Path], None]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        for w in writers:
            w(folder)

    return write


CUSTOMERS_CSV = ("customers.csv", H["customers"], "9,hotel,2024-04-01")

# -- import files that are refused: (how to write the folder, what the message names) -----
REFUSED: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "csv: key column twice": (
        csv_file(
            "customers.csv", "customer_id,business_type,customer_id,signup_date", "9,hotel,10,"
        ),
        ["customers.customer_id", "customers.csv", "2 columns named"],
    ),  # fmt: skip
    "csv: value column twice": (
        csv_file(
            "customers.csv",
            "customer_id,business_type,business_type,signup_date",
            "9,hotel,office,",
        ),
        ["customers.business_type", "customers.csv", "2 columns named"],
    ),  # fmt: skip
    "csv: extra column twice": (
        csv_file("customers.csv", H["customers"] + ",note,note", "9,hotel,,a,b"),
        ["customers.note", "2 columns named"],
    ),
    "csv: column twice, spaces around": (
        csv_file(
            "customers.csv", "customer_id, customer_id ,business_type,signup_date", "9,10,hotel,"
        ),
        ["customers.customer_id", "2 columns named"],
    ),  # fmt: skip
    "parquet: column twice": (
        lambda f: pq.write_table(
            pa.Table.from_arrays(
                [pa.array([9]), pa.array(["hotel"]), pa.array([10]), pa.array([None], pa.string())],
                names=["customer_id", "business_type", "customer_id", "signup_date"],
            ),
            f / "customers.parquet",
        ),
        ["customers.customer_id", "customers.parquet", "2 columns named"],
    ),
    "parquet: bytes in a text column": (
        parquet("customers.parquet", replaced(CUSTOMER, business_type=[b"hotel"])),
        ["customers.business_type", "customers.parquet", "bytes"],
    ),
    "parquet: bytes in an id": (
        parquet("customers.parquet", replaced(CUSTOMER, customer_id=[b"9"])),
        ["customers.customer_id", "bytes"],
    ),
    "parquet: large bytes": (
        parquet(
            "customers.parquet",
            replaced(CUSTOMER, business_type=[b"x"]),
            business_type=pa.large_binary(),
        ),
        ["customers.business_type", "bytes"],
    ),  # fmt: skip
    "parquet: fixed-size bytes in a date": (
        parquet(
            "customers.parquet",
            replaced(CUSTOMER, signup_date=[b"2024-04-01"]),
            signup_date=pa.binary(10),
        ),
        ["customers.signup_date", "bytes"],
    ),  # fmt: skip
    "parquet: boolean id": (
        parquet("customers.parquet", replaced(CUSTOMER, customer_id=[True])),
        ["customers.customer_id", "booleans", "integer"],
    ),
    "parquet: boolean reference": (
        parquet(
            "orders.parquet",
            {
                "order_id": [300],
                "customer_id": [True],
                "order_date": ["2024-04-02"],
                "is_business": [1],
                "store_id": [None],
            },
            store_id=pa.int64(),
        ),
        ["orders.customer_id", "booleans"],
    ),  # fmt: skip
    "parquet: boolean price tier": (
        parquet("products.parquet", replaced(PRODUCT, price_tier=[True])),
        ["products.price_tier", "booleans"],
    ),
    "parquet: boolean price": (
        parquet("products.parquet", replaced(PRODUCT, list_price=[True])),
        ["products.list_price", "booleans", "number"],
    ),
    "parquet: boolean text": (
        parquet("customers.parquet", replaced(CUSTOMER, business_type=[False])),
        ["customers.business_type", "booleans"],
    ),
    "parquet: boolean date": (
        parquet("customers.parquet", replaced(CUSTOMER, signup_date=[True])),
        ["customers.signup_date", "booleans"],
    ),
    "parquet: list in an id": (
        parquet("customers.parquet", replaced(CUSTOMER, customer_id=[[9, 10]])),
        ["customers.customer_id", "nested"],
    ),
    "parquet: struct in a text": (
        parquet("customers.parquet", replaced(CUSTOMER, business_type=[{"a": "hotel"}])),
        ["customers.business_type", "nested"],
    ),
    "parquet: fractional id": (
        parquet("customers.parquet", replaced(CUSTOMER, customer_id=[9.5])),
        ["customers.customer_id", '"integer"', "9.5"],
    ),
    "parquet: timestamp in an id": (
        parquet("customers.parquet", replaced(CUSTOMER, customer_id=[datetime(2024, 4, 1)])),
        ["customers.customer_id", '"integer"'],
    ),
    "parquet: no rows": (
        parquet(
            "customers.parquet",
            {k: [] for k in CUSTOMER},
            customer_id=pa.int64(),
            business_type=pa.string(),
            signup_date=pa.string(),
        ),
        ["customers", "no rows"],
    ),  # fmt: skip
    "parquet: a column missing": (
        parquet("customers.parquet", {"customer_id": [9], "business_type": ["hotel"]}),
        ["customers.signup_date", "column missing"],
    ),
    "parquet: not parquet": (
        raw_file("customers.parquet", b"PAR1 but not really"),
        ["customers", "cannot read customers.parquet"],
    ),
    "compressed: .csv.xz": (raw_file("orders.csv.xz", b"\xfd7zXZ"), ["orders.csv.xz", ".csv.gz"]),
    "compressed: .zip": (raw_file("orders.zip", b"PK\x03\x04"), ["orders.zip", "unsupported"]),
    "compressed: .csv.gz that is not gzip": (
        raw_file("orders.csv.gz", b"order_id\n1\n"),
        ["orders", "cannot read orders.csv.gz"],
    ),
    "format: .json": (raw_file("customers.json", b"[]"), ["customers.json", "unsupported"]),
    "format: .xlsx": (raw_file("customers.xlsx", b"PK"), ["customers.xlsx", "unsupported"]),
    "format: no ending": (raw_file("customers", b"customer_id\n"), ["customers", "unsupported"]),
    "format: dated name": (
        csv_file("orders.2024-04-02.csv", H["orders"]),
        ["orders.2024-04-02.csv", "unsupported"],
    ),
    "link: broken, named after a table": (
        symlink("orders.csv", "/nonexistent/orders.csv"),
        ["orders.csv", "broken symbolic link", "/nonexistent/orders.csv"],
    ),
    "link: broken, another name": (
        both(csv_file(*CUSTOMERS_CSV), symlink("notes.txt", "gone.txt")),
        ["notes.txt", "broken symbolic link"],
    ),
    "folder named after a table": (
        both(csv_file(*CUSTOMERS_CSV), folder_named("orders")),
        ["orders", "is a folder"],
    ),
    "partitioned parquet dataset": (
        folder_named("orders.parquet"),
        ["orders.parquet is a folder"],
    ),
    "two files: csv and csv.gz": (
        both(
            csv_file(*CUSTOMERS_CSV),
            csv_file("customers.csv.gz", *CUSTOMERS_CSV[1:], opener=gzip.open),
        ),
        ["two files for one table", "customers.csv", "customers.csv.gz"],
    ),  # fmt: skip
    "two files: csv and pq": (
        both(csv_file(*CUSTOMERS_CSV), parquet("customers.pq", CUSTOMER)),
        ["two files for one table"],
    ),
    "csv: latin-1 text": (
        raw_file("customers.csv", f"{H['customers']}\n9,caf\xe9,\n".encode("latin-1")),
        ["customers", "cannot read customers.csv"],
    ),
    "csv: unterminated quote": (
        csv_file("customers.csv", H["customers"], '9,"hotel,2024-04-01'),
        ["customers", "cannot read customers.csv"],
    ),
    "csv: a row with fewer fields": (
        csv_file("customers.csv", H["customers"], "9,hotel"),
        ["customers", "cannot read customers.csv"],
    ),
    "csv: only separators in the header": (
        csv_file("customers.csv", ",,", "9,hotel,"),
        ["customers", "empty"],
    ),
    "csv: scientific id": (
        csv_file("customers.csv", H["customers"], "9e0,hotel,"),
        ["customers.customer_id", '"integer"', "9e0"],
    ),
    "csv: id beyond 64 bits": (
        csv_file("customers.csv", H["customers"], "99999999999999999999,hotel,"),
        ["customers.customer_id", '"integer"'],
    ),
    "csv: decimal comma": (
        csv_file("order_items.csv", H["order_items"], '300,10,"1,5",2.0,0'),
        ["order_items.quantity", '"number"', "1,5"],
    ),
    "csv: infinite quantity": (
        csv_file("order_items.csv", H["order_items"], "100,10,inf,2.0,0"),
        ["order_items.quantity", '"number"'],
    ),
    "csv: day-first date": (
        csv_file("customers.csv", H["customers"], "9,hotel,01/04/2024"),
        ["customers.signup_date", '"date YYYY-MM-DD"'],
    ),
    "csv: hour 25": (
        csv_file("customers.csv", H["customers"], "9,hotel,2024-04-01T25:00:00"),
        ["customers.signup_date", '"date YYYY-MM-DD"'],
    ),
    "csv: blank key": (
        csv_file("customers.csv", H["customers"], "  ,hotel,"),
        ["customers.customer_id", '"not null"'],
    ),
    "csv: boolean words in a flag": (
        csv_file("orders.csv", H["orders"], "300,1,2024-04-02,true,"),
        ["orders.is_business", '"0 or 1"'],
    ),
    "csv: null in a flag": (
        csv_file("orders.csv", H["orders"], "300,1,2024-04-02,,"),
        ["orders.is_business", '"not null"'],
    ),
}


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden store, built once; tests copy it (`copy_of`)."""
    return golden_store(tmp_path_factory.mktemp("golden") / "s.db")


@pytest.fixture(scope="module")
def golden_rows(golden: Path) -> Counter:
    return store_rows(golden)


@pytest.fixture
def copy_of(golden: Path, tmp_path: Path) -> Callable[[str], Path]:
    return lambda name: Path(shutil.copy(golden, tmp_path / name))


def import_into(db: Path, tmp_path: Path, write: Callable[[Path], None]) -> Outcome:
    folder = tmp_path / "feed"
    folder.mkdir()
    write(folder)
    return invoke(["--db", db, "import", folder])


@pytest.mark.parametrize("case", REFUSED)
def test_an_ambiguous_or_broken_file_is_refused_and_the_store_kept(
    tmp_path: Path, case: str, copy_of: Callable[[str], Path], golden_rows: Counter
) -> None:
    write, needles = REFUSED[case]
    before = golden_rows
    db = copy_of("s.db")
    outcome = import_into(db, tmp_path, write)
    if outcome.traceback:
        LEDGER.traceback(f"import: {case}")
    assert outcome.traceback is None, outcome.traceback
    assert outcome.code == 1, outcome
    assert outcome.err_lines[0].endswith(("problem)", "problems)")), outcome.err
    for needle in needles:
        assert needle in outcome.err, (needle, outcome.err)
    LEDGER.rows_lost(rows_differing(before, store_rows(db)))
    assert store_rows(db) == before
    LEDGER.bad_input(f"import: {case}")


# -- import files accepted by a documented rule ----------------------------------------------
ACCEPTED: dict[str, tuple[Callable[[Path], None], str, tuple]] = {
    "gzip csv": (csv_file("customers.csv.gz", *CUSTOMERS_CSV[1:], opener=gzip.open),
                 "customers", (9, "hotel", "2024-04-01")),
    "bzip2 csv": (csv_file("customers.csv.bz2", *CUSTOMERS_CSV[1:], opener=bz2.open),
                  "customers", (9, "hotel", "2024-04-01")),
    "zstd csv": (lambda f: pa.output_stream(str(f / "customers.csv.zst"), compression="zstd")
                 .write(f"{H['customers']}\n9,hotel,2024-04-01\n".encode()),
                 "customers", (9, "hotel", "2024-04-01")),
    "byte-order mark": (raw_file("customers.csv", f"\ufeff{H['customers']}\n9,hotel,\n"
                                 .encode()), "customers", (9, "hotel", None)),
    "boolean flags": (parquet("products.parquet", replaced(PRODUCT, is_fresh=[True],
                                                            is_own_brand=[False])),
                      "products", (50, "bakery", 1, 2, 0, 3.5, 1.2)),
    "a link to a file": (both(lambda f: csv_file(*CUSTOMERS_CSV)(f.parent),
                              symlink("customers.csv", "../customers.csv")),
                         "customers", (9, "hotel", "2024-04-01")),
    "extra columns": (csv_file("customers.csv", H["customers"] + ",note", "9,hotel,,hi"),
                      "customers", (9, "hotel", None)),
}  # fmt: skip


@pytest.mark.parametrize("case", ACCEPTED)
def test_a_file_read_by_a_documented_rule(
    tmp_path: Path, case: str, copy_of: Callable[[str], Path]
) -> None:
    write, table, row = ACCEPTED[case]
    db = copy_of("s.db")
    outcome = import_into(db, tmp_path, write)
    assert outcome.code == 0 and outcome.traceback is None, outcome
    with contextlib.closing(sqlite3.connect(db)) as con:
        assert row in con.execute(f"SELECT * FROM {table}").fetchall()
    LEDGER.accepted_input(f"import: {case}")


def test_skipped_entries_are_listed_with_why(
    tmp_path: Path, copy_of: Callable[[str], Path]
) -> None:
    def write(folder: Path) -> None:
        csv_file(*CUSTOMERS_CSV)(folder)
        (folder / "README.txt").write_text("notes")
        (folder / ".DS_Store").write_bytes(b"\0")
        (folder / "old").mkdir()

    db, folder = copy_of("s.db"), tmp_path / "feed"
    folder.mkdir()
    write(folder)
    human = invoke(["--db", db, "import", folder])
    assert "skipped README.txt: not named after a contract table" in human.out
    assert "skipped .DS_Store: hidden" in human.out and "skipped old: a folder" in human.out
    as_json = invoke(["--db", db, "--json", "import", folder])
    assert '{"name": "README.txt", "reason": "not named after a contract table"}' in as_json.out
    LEDGER.accepted_input("import: a folder with other files")


def test_time_zones_become_utc_days_whatever_the_machine_zone(
    tmp_path: Path, copy_of: Callable[[str], Path]
) -> None:
    """The same instants import as the same UTC days under two TZ settings."""
    east, west = timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))
    instants = [datetime(2024, 4, 1, 23, 30, tzinfo=west), datetime(2024, 4, 1, 0, 30, tzinfo=east)]
    folder = tmp_path / "feed"
    folder.mkdir()
    pq.write_table(
        pa.table(
            {
                "customer_id": [9, 10],
                "business_type": ["hotel", "office"],
                "signup_date": pa.array(instants, pa.timestamp("us", tz="America/New_York")),
            }
        ),
        folder / "customers.parquet",
    )
    days = []
    here = time.strftime("%z")  # this process: the machine's zone; a child: one far from it
    for zone in (None, "Asia/Tokyo" if here != "+0900" else "America/Los_Angeles"):
        db = copy_of(f"{zone or 'here'}.db".replace("/", "-"))
        if zone is None:
            assert invoke(["--db", db, "-q", "import", folder]).code == 0
        else:
            done = subprocess.run(
                [sys.executable, "-m", "offerrank", "--db", str(db), "-q", "import", str(folder)],
                env={**os.environ, "TZ": zone}, capture_output=True, text=True,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
        with contextlib.closing(sqlite3.connect(db)) as con:
            days.append(
                con.execute(
                    "SELECT signup_date FROM customers WHERE customer_id >= 9 ORDER BY 1 DESC"
                ).fetchall()
            )
    assert days[0] == days[1] == [("2024-04-02",), ("2024-03-31",)]
    LEDGER.accepted_input("import: time zones under two TZ settings")


# -- tampered stores: the run's contract check refuses before any step -----------------------
TAMPERED: dict[str, tuple[str, list[str]]] = {
    "text in a quantity": (
        "UPDATE order_items SET quantity = 'lots' WHERE rowid = 1;",
        ["order_items.quantity", '"number"'],
    ),
    "null reference": (
        "UPDATE orders SET customer_id = NULL WHERE order_id = 100;",
        ["orders.customer_id", '"not null"'],
    ),
    "a deleted customer with orders": (
        "DELETE FROM customers WHERE customer_id = 1;",
        ["orders.customer_id", "references customers.customer_id"],
    ),
    "a garbage date": (
        "UPDATE impressions SET shown_date = 'soon' WHERE rowid = 1;",
        ["impressions.shown_date", '"date YYYY-MM-DD"'],
    ),
    "a flag of 2": (
        "UPDATE orders SET is_business = 2 WHERE order_id = 100;",
        ["orders.is_business", '"0 or 1"'],
    ),  # fmt: skip
    "an offer ending before it starts": (
        "UPDATE offers SET end_date = '2000-01-01' WHERE rowid = (SELECT MIN(rowid) FROM offers);",
        ["offers.end_date", "start_date <= end_date"],
    ),
    "a dropped table": ("DROP TABLE redemptions;", ["redemptions", "missing from the store"]),
    "a dropped column": (
        "ALTER TABLE offers DROP COLUMN discount_pct;",
        ["offers.discount_pct", "missing from the store"],
    ),
    "duplicate keys in a table rebuilt without its key": (
        "CREATE TABLE c2 AS SELECT * FROM customers; DROP TABLE customers;"
        " ALTER TABLE c2 RENAME TO customers; INSERT INTO customers VALUES (1, 'hotel', NULL);",
        ["customers.customer_id", '"unique key"'],
    ),
    "a bad row written with the triggers dropped": (
        "DROP TRIGGER contract_watermarks_order_items_update;"
        " UPDATE order_items SET quantity = -1 WHERE rowid = 2;",
        ["order_items.quantity", '"> 0"'],
    ),
    "a bad row written under a trigger edited to do nothing": (
        "DROP TRIGGER contract_watermarks_orders_update;"
        " CREATE TRIGGER contract_watermarks_orders_update AFTER UPDATE ON orders"
        " BEGIN SELECT 1; END;"
        " UPDATE orders SET order_date = 'never' WHERE order_id = 100;",
        ["orders.order_date", '"date YYYY-MM-DD"'],
    ),
    "a low key inserted below the watermark": (
        "INSERT INTO customers VALUES (-5, NULL, NULL);",
        ["customers.business_type", '"not null"'],
    ),
}


@pytest.fixture(scope="module")
def checked_golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden store, migrated and checked (watermarks at the last rows)."""
    db = golden_store(tmp_path_factory.mktemp("checked") / "s.db")
    assert check(db).violations == []
    return db


@pytest.mark.parametrize("case", TAMPERED)
def test_a_tampered_store_is_refused_before_any_step(
    checked_golden: Path, tmp_path: Path, case: str
) -> None:
    db = Path(shutil.copy(checked_golden, tmp_path / "s.db"))
    sql, needles = TAMPERED[case]
    shell(db, sql)
    before = store_rows(db)
    outcome = invoke(["--db", db, "-q", "run", "--date", "2024-04-01"])
    assert outcome.traceback is None, outcome.traceback
    assert outcome.code == 1 and "data contract violated" in outcome.err_lines[0], outcome
    for needle in needles:
        assert needle in outcome.err, (needle, outcome.err)
    with contextlib.closing(sqlite3.connect(db)) as con:
        steps = con.execute("SELECT step, status FROM pipeline_runs").fetchall()
    assert steps == [("contract", "failed")]
    LEDGER.rows_lost(rows_differing(before, store_rows(db)))
    LEDGER.bad_input(f"tampered store: {case}")


SURVIVED = {
    "watermarks dropped": "DROP TABLE contract_watermarks;",
    "watermark log emptied": "DELETE FROM contract_watermark_log;",
    "store id removed": "DELETE FROM store_identity;",
    "migration record removed": "DELETE FROM schema_migrations WHERE version = 7;",
    "all triggers dropped": ";".join(
        f"DROP TRIGGER contract_watermarks_{t}_{e}"
        for t in ("customers", "orders", "order_items")
        for e in ("insert", "update", "delete")
    ),
}


@pytest.mark.parametrize("case", SURVIVED)
def test_damaged_bookkeeping_is_rebuilt_and_the_store_checked_again(
    checked_golden: Path, tmp_path: Path, case: str
) -> None:
    """Bookkeeping tables lost or emptied: the next check rebuilds them (reading again
    whatever it can no longer vouch for) and the data is unchanged."""
    db = Path(shutil.copy(checked_golden, tmp_path / "s.db"))
    shell(db, SURVIVED[case])
    before = store_rows(db)
    assert check(db).violations == []
    assert check(db).rows_checked == {}  # checked once, then caught up
    LEDGER.rows_lost(rows_differing(before, store_rows(db)))
    assert plain_equals_cached(db, tmp_path / "cache")
    LEDGER.fault(f"bookkeeping: {case}")


def plain_equals_cached(db: Path, cache: Path) -> bool:
    def rows_of(tables: dict[str, pa.Table]) -> dict[str, list]:
        return {n: sorted(map(repr, t.to_pylist())) for n, t in tables.items()}

    plain = rows_of(read_store_tables(db))
    return all(rows_of(read_store_tables(db, cache_dir=cache)) == plain for _ in range(2))


# -- filesystem faults ------------------------------------------------------------------------
@contextlib.contextmanager
def disk_full_after(pages: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every store connection may grow its file by `pages` pages, then SQLite answers
    SQLITE_FULL, as on a full disk."""
    real = store_db.connect

    def limited(*args: object, **kwargs: object) -> sqlite3.Connection:
        con = real(*args, **kwargs)  # type: ignore[arg-type]
        used = con.execute("PRAGMA page_count").fetchone()[0]
        con.execute(f"PRAGMA max_page_count = {used + pages}")
        return con

    with monkeypatch.context() as patch:
        for module in (store_db, store_io):
            patch.setattr(module, "connect", limited)
        from offerrank.pipeline import daily

        patch.setattr(daily, "connect", limited)
        yield


@pytest.mark.parametrize("pages", [0, 2])
def test_a_full_disk_during_an_import_leaves_the_store_as_it_was(
    tmp_path: Path, pages: int, monkeypatch: pytest.MonkeyPatch, copy_of: Callable[[str], Path]
) -> None:
    db, folder = copy_of("s.db"), tmp_path / "feed"
    shutil.copytree(Path(__file__).parent / "fixtures" / "feed", folder)
    before = store_rows(db)
    with disk_full_after(pages, monkeypatch):
        outcome = invoke(["--db", db, "import", folder])
    assert outcome.traceback is None, outcome.traceback
    assert outcome.code == 1 and len(outcome.err_lines) == 1, outcome
    assert "disk full" in outcome.err and "s.db" in outcome.err
    LEDGER.rows_lost(rows_differing(before, store_rows(db)))
    assert store_rows(db) == before
    assert invoke(["--db", db, "import", folder]).code == 0  # space freed: it lands
    LEDGER.fault(f"disk full during an import ({pages} pages left)")


def outputs(db: Path, day: str) -> tuple[list, list]:
    with contextlib.closing(sqlite3.connect(db)) as con:
        recs = con.execute(
            "SELECT customer_id, offer_id, rank, score, model_version FROM recommendations"
            " WHERE run_date = ? ORDER BY customer_id, rank",
            (day,),
        ).fetchall()
        metrics = con.execute(
            "SELECT metric, value FROM run_metrics WHERE run_date = ?"
            " AND metric NOT LIKE 'duration_%' AND metric NOT LIKE 'fit_seconds_%' ORDER BY 1",
            (day,),
        ).fetchall()
    return recs, metrics


def test_a_full_disk_during_a_run_fails_the_step_and_a_rerun_equals_a_clean_run(
    two_day_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference, _, _ = two_day_run
    day = "2026-02-18"
    config = tmp_path / "offerrank.toml"
    config.write_text(f'bootstrap_samples = 20\nartifacts_dir = "{reference.models_dir}"\n')
    clean, full = tmp_path / "clean" / "metro.db", tmp_path / "full" / "metro.db"
    for db in (clean, full):
        db.parent.mkdir()
        shutil.copy(reference.db_path, db)
    assert invoke(["--db", clean, "--config", config, "-q", "run", "--date", day]).code == 0
    with disk_full_after(40, monkeypatch):
        outcome = invoke(["--db", full, "--config", config, "-q", "run", "--date", day])
    assert outcome.traceback is None, outcome.traceback
    assert outcome.code == 1 and len(outcome.err_lines) == 1, outcome
    assert "disk full" in outcome.err
    with contextlib.closing(sqlite3.connect(full)) as con:
        steps = con.execute(
            "SELECT step, status FROM pipeline_runs WHERE run_date = ? ORDER BY rowid", (day,)
        ).fetchall()
    assert steps[-1][1] == "failed", steps
    assert all(s in ("success", "skipped") for _, s in steps[:-1]), steps
    rerun = invoke(["--db", full, "--config", config, "-q", "run", "--date", day])
    assert rerun.code == 0, rerun
    assert outputs(full, day) == outputs(clean, day)
    LEDGER.fault(f"disk full during a run (failed in {steps[-1][0]})")


def test_a_real_full_disk_during_an_import(tmp_path: Path, copy_of: Callable[[str], Path]) -> None:
    """ENOSPC from a small tmpfs in a private mount namespace (root only)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a small tmpfs")
    db = copy_of("s.db")
    feed = tmp_path / "feed"
    shutil.copytree(Path(__file__).parent / "fixtures" / "feed", feed)
    size = db.stat().st_size + 8192  # the store and two pages
    script = (
        f"mount -t tmpfs -o size={size} tmpfs {tmp_path}/mnt && cp {db} {tmp_path}/mnt/s.db &&"
        f" {sys.executable} -m offerrank --db {tmp_path}/mnt/s.db import {feed};"
        f" code=$?; cp {tmp_path}/mnt/s.db {tmp_path}/after.db; exit $code"
    )
    (tmp_path / "mnt").mkdir()
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True)
    if "mount" in done.stderr and "permission denied" in done.stderr.lower():
        pytest.skip("no permission to mount a tmpfs here")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "disk full" in lines[0] or "no space" in lines[0], lines
    assert store_rows(tmp_path / "after.db") == store_rows(db)
    LEDGER.fault("a real full disk (tmpfs) during an import")


def test_a_cache_that_cannot_be_written_or_was_changed_is_not_trusted(
    checked_golden: Path, tmp_path: Path
) -> None:
    db = Path(shutil.copy(checked_golden, tmp_path / "s.db"))
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("not a folder")
    assert plain_equals_cached(db, blocker)
    LEDGER.fault("history cache folder is a file")
    cache = tmp_path / "cache"
    assert plain_equals_cached(db, cache)
    segment = next(cache.glob("customers.*.arrow"))
    data = bytearray(segment.read_bytes())
    data[-40] ^= 0xFF  # a bit flipped in place: same size, new time
    segment.write_bytes(bytes(data))
    assert plain_equals_cached(db, cache)
    LEDGER.fault("history cache segment changed in place")
    shell(db, "UPDATE customers SET business_type = 'x' WHERE customer_id = 2;")
    (cache / "manifest.json").chmod(0o444)
    assert plain_equals_cached(db, cache)
    LEDGER.fault("history cache manifest read-only")


def test_stray_wal_and_shm_files_beside_the_store(checked_golden: Path, tmp_path: Path) -> None:
    """Garbage left where SQLite keeps its write-ahead log: ignored or rebuilt, never read
    as data."""
    db = Path(shutil.copy(checked_golden, tmp_path / "s.db"))
    before = store_rows(db)
    Path(f"{db}-wal").write_bytes(os.urandom(4096))
    Path(f"{db}-shm").write_bytes(os.urandom(32768))
    outcome = invoke(["--db", db, "status"])
    assert outcome.traceback is None and (outcome.code == 0 or len(outcome.err_lines) == 1)
    assert store_rows(db) == before
    LEDGER.fault("garbage -wal and -shm files beside the store")


# -- concurrency ------------------------------------------------------------------------------
def test_a_second_run_while_one_holds_the_store_is_refused(
    tmp_path: Path, copy_of: Callable[[str], Path]
) -> None:
    db = copy_of("s.db")
    with open(f"{db}.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("12345")
        held.flush()
        outcome = invoke(["--db", db, "run", "--date", "2024-04-01"])
    assert outcome.traceback is None and outcome.code == 1, outcome
    assert len(outcome.err_lines) == 1 and "another run is using" in outcome.err
    LEDGER.bad_input("a second run of the same store")


def test_two_imports_at_once_both_land(tmp_path: Path, copy_of: Callable[[str], Path]) -> None:
    db = copy_of("s.db")
    feeds = []
    for i in range(2):
        folder = tmp_path / f"feed{i}"
        folder.mkdir()
        csv_file("customers.csv", H["customers"], f"{20 + i},hotel,")(folder)
        feeds.append(folder)
    failures: list[BaseException] = []

    def land(folder: Path) -> None:
        try:
            store_io.import_dir(db, folder)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=land, args=(f,)) for f in feeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with contextlib.closing(sqlite3.connect(db)) as con:
        ids = {r for (r,) in con.execute("SELECT customer_id FROM customers")}
    assert {20, 21} <= ids
    LEDGER.fault("two imports at once")


def test_an_import_waits_for_a_writer_and_a_status_reads_beside_it(
    tmp_path: Path, copy_of: Callable[[str], Path]
) -> None:
    db = copy_of("s.db")
    folder = tmp_path / "feed"
    folder.mkdir()
    csv_file(*CUSTOMERS_CSV)(folder)
    writer = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO customers VALUES (30, 'office', NULL)")
    status = invoke(["--db", db, "status"])  # a reader beside a writer (WAL)
    assert status.code == 0, status
    release = threading.Timer(0.5, lambda: writer.execute("COMMIT"))
    release.start()
    outcome = invoke(["--db", db, "import", folder])  # waits for the writer, then lands
    release.join()
    writer.close()
    assert outcome.code == 0, outcome
    with contextlib.closing(sqlite3.connect(db)) as con:
        ids = {r for (r,) in con.execute("SELECT customer_id FROM customers")}
    assert {9, 30} <= ids
    LEDGER.fault("an import while another connection writes")
    LEDGER.fault("status while another connection writes")


def test_a_dated_run_past_the_data_says_which_dates_the_store_covers(
    checked_golden: Path, tmp_path: Path
) -> None:
    db = Path(shutil.copy(checked_golden, tmp_path / "s.db"))
    outcome = invoke(["--db", db, "-q", "run", "--date", "2099-01-01"])
    assert outcome.traceback is None and outcome.code == 1, outcome
    assert len(outcome.err_lines) == 1 and "orders run" in outcome.err, outcome.err
    assert "nowhere" not in outcome.err
    LEDGER.bad_input("run on a date past the store's data")
