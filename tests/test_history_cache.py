"""The history cache: the same tables as a plain read of the store, whatever happened."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from offerrank.store.db import connect
from offerrank.store.history.history_cache import MANIFEST
from offerrank.store.history.tables import read_store_tables
from offerrank.store.results.migrations import migrate
from store_shell import check, shell


@pytest.fixture
def store(tiny_world: Path, tmp_path: Path) -> Path:
    db = tmp_path / "metro.db"
    shutil.copy(tiny_world, db)
    con = connect(db)
    migrate(con)
    con.close()
    return db


def _sorted(table: pa.Table) -> pa.Table:
    """Row order is no part of a read (the SQL path lists lines in index order)."""
    return table.sort_by([(c, "ascending") for c in table.column_names]).combine_chunks()


def assert_same(db: Path, cache: Path, since: date | None = None) -> dict[str, pa.Table]:
    plain = read_store_tables(db, since=since)
    cached = read_store_tables(db, since=since, cache_dir=cache)
    for name, table in plain.items():
        assert cached[name].schema == table.schema, name
        assert _sorted(cached[name]).equals(_sorted(table)), name
    return cached


def last_read(cache: Path) -> dict[str, int]:
    """What the last read through the cache took from it and from SQLite."""
    return dict(json.loads((cache / MANIFEST).read_text())["last_read"])


def test_first_read_fills_the_cache_and_the_next_reads_nothing_from_sqlite(
    store: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert_same(store, cache)
    assert (cache / MANIFEST).is_file() and len(list(cache.glob("*.arrow"))) == 7
    assert last_read(cache)["cached_rows"] == 0
    assert_same(store, cache)
    assert last_read(cache)["read_rows"] == 0 and last_read(cache)["full_tables"] == 0


def test_appended_rows_are_read_then_cached_once_checked(store: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert_same(store, cache)
    shell(
        store,
        "INSERT INTO orders SELECT MAX(order_id) + 1, 1, '2026-02-27', 0, NULL FROM orders;"
        "INSERT INTO order_items SELECT MAX(order_id), 1, 2, 3.5, 0 FROM orders;",
    )
    assert_same(store, cache)  # new rows above the watermark: read, not cached
    before = len(list(cache.glob("order_items.*.arrow")))
    check(store)
    assert_same(store, cache)
    assert len(list(cache.glob("order_items.*.arrow"))) == before + 1
    assert_same(store, cache)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE order_items SET quantity = quantity + 1 WHERE rowid = 5;",
        "DELETE FROM impressions WHERE rowid = 3;",
        "UPDATE customers SET business_type = 'hotel' WHERE rowid = 1;",
    ],
    ids=["update", "delete", "update-customer"],
)
def test_a_change_to_cached_rows_is_seen(store: Path, tmp_path: Path, sql: str) -> None:
    cache = tmp_path / "cache"
    assert_same(store, cache)
    shell(store, sql)
    assert_same(store, cache)
    check(store)  # the full recheck of that table, then the cache refills
    assert_same(store, cache)


def test_an_unobserved_change_to_the_last_cached_row_is_seen(store: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert_same(store, cache)
    shell(
        store,
        "DROP TRIGGER contract_watermarks_order_items_update;"
        "UPDATE order_items SET quantity = 99 WHERE rowid = (SELECT MAX(rowid) FROM order_items);",
    )
    cached = assert_same(store, cache)
    assert 99 in cached["order_items"].column("quantity").to_pylist()


def test_another_store_at_the_same_path_is_read_whole(
    store: Path, tmp_path: Path, tiny_world: Path
) -> None:
    cache = tmp_path / "cache"
    assert_same(store, cache)
    store.unlink()
    shutil.copy(tiny_world, store)
    shell(store, "DELETE FROM store_identity; INSERT INTO store_identity VALUES ('other');")
    shell(
        store, "DROP TRIGGER contract_watermarks_orders_delete; DELETE FROM orders WHERE rowid=1;"
    )
    assert_same(store, cache)


def test_a_damaged_cache_is_rebuilt(store: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert_same(store, cache)
    victim = next(cache.glob("order_items.*.arrow"))
    victim.write_bytes(victim.read_bytes()[:100])
    assert_same(store, cache)
    (cache / MANIFEST).write_text("{not json")
    assert_same(store, cache)


def test_the_since_filter_matches_the_sql_filter(store: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert_same(store, cache)
    cached = assert_same(store, cache, since=date(2026, 1, 15))
    assert 0 < cached["orders"].num_rows < read_store_tables(store)["orders"].num_rows


def test_an_unchecked_store_is_not_cached(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    shell(db, (Path(__file__).parent / "fixtures" / "golden_store.sql").read_text())
    assert_same(db, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_a_run_reads_the_same_through_the_cache(two_day_run, tmp_path: Path) -> None:
    """The session's runs used the cache (the default); a run without it agrees."""
    from offerrank.pipeline.daily import run_daily

    reference, _, _ = two_day_run
    recs = {}
    for cache in (True, False):
        db = tmp_path / f"cache-{cache}" / "metro.db"
        db.parent.mkdir()
        shutil.copy(reference.db_path, db)
        s = reference.model_copy(
            update={"db_path": db, "history_cache": cache, "reports_dir": tmp_path / "r"}
        )
        assert run_daily(s, date(2026, 2, 18)).ok
        with sqlite3.connect(db) as con:
            recs[cache] = con.execute(
                "SELECT customer_id, offer_id, rank, score FROM recommendations"
                " WHERE run_date = '2026-02-18' ORDER BY customer_id, rank"
            ).fetchall()
        assert (s.cache_dir or db.parent / "no-cache").is_dir() == cache
    assert recs[True] == recs[False] and len(recs[True]) > 0


def test_a_store_of_the_previous_version_upgrades_without_a_full_recheck(store: Path) -> None:
    """Stores made before the watermark log had counting triggers and no log: their
    triggers are replaced in place (they watched every change), each table gets a first
    token, and no table is checked again from its first row."""
    from offerrank.store.check import watermarks

    with sqlite3.connect(store) as con:
        for table in watermarks.input_tables_present(con):
            for event in ("insert", "update", "delete"):
                con.execute(f"DROP TRIGGER {watermarks.trigger_name(table, event)}")
            for stmt in watermarks.trigger_sql(table, "generation + 1"):
                con.execute(stmt)
        con.execute(f"DROP TABLE {watermarks.LOG}")
        con.execute("DELETE FROM schema_migrations WHERE version = 7")
    con.close()
    result = check(store)
    assert result.from_start == [] and result.violations == []
    with sqlite3.connect(store) as con:
        tokens = con.execute(f"SELECT COUNT(DISTINCT table_name) FROM {watermarks.LOG}").fetchone()
        triggers = dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    con.close()
    assert tokens == (7,)
    assert all(watermarks.watched(t.name, triggers) for t in watermarks.INPUT_TABLES)
