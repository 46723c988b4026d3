"""The history cache against any sequence of changes to its store, made by any means.

A small generated store goes through a random sequence of events (imports, the sqlite3
shell, the run's contract check, backups restored, other stores copied over it, VACUUM,
the store moved); after each event a read through the cache must equal a plain read.
The end-to-end test replays, through the command line, the sequence that once gave a
run wrong metrics: a backup restored, then a corrected feed with the same ids and the
same last row.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offerrank.cli.main import run_app
from offerrank.errors import ContractViolation
from offerrank.store.history.tables import read_store_tables
from offerrank.store.ingest.io import import_dir
from reliability_ledger import LEDGER
from store_shell import check, shell

FEED_ROWS = 6


@dataclass(frozen=True)
class Worlds:
    base: Path  # a small generated store
    other: Path  # another generated store (another id, another history)
    feeds: dict[str, Path]  # two feeds of the same new impression ids, different rows


def write_feed(folder: Path, rows: list[tuple]) -> Path:
    folder.mkdir(parents=True)
    with open(folder / "impressions.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            ["impression_id", "customer_id", "offer_id", "shown_date", "channel", "propensity"]
        )
        out.writerows((*row, "") for row in rows)
    return folder


def corrected_feeds(
    db: Path, folder: Path, n: int, shown: tuple[str, str] = ("2026-02-01", "2026-02-28")
) -> dict[str, Path]:
    """Feed `a` of `n` new impressions (pairs seen between the `shown` dates) and feed
    `b`: the same ids, every row but the last changed (a resent, corrected feed)."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        top = con.execute("SELECT max(impression_id) FROM impressions").fetchone()[0]
        seen = con.execute(
            "SELECT customer_id, offer_id, shown_date FROM impressions"
            " WHERE shown_date BETWEEN ? AND ? ORDER BY impression_id LIMIT ?",
            (*shown, 2 * n),
        ).fetchall()
    a = [(top + 1 + i, *seen[i], "email") for i in range(n)]
    b = [(top + 1 + i, *seen[n + i], "app") for i in range(n - 1)] + [a[-1]]
    return {"a": write_feed(folder / "a", a), "b": write_feed(folder / "b", b)}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Worlds:
    from offerrank.world.generate import generate_world

    folder = tmp_path_factory.mktemp("events")
    base, other = folder / "base.db", folder / "other.db"
    generate_world(base, preset="tiny", seed=7, start=date(2026, 2, 1))
    generate_world(other, preset="tiny", seed=8, start=date(2026, 2, 1))
    check(base)  # as after a first run: migrated
    return Worlds(base, other, corrected_feeds(base, folder / "feeds", FEED_ROWS))


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(c, "ascending") for c in table.column_names]).combine_chunks()


def assert_cache_equals_plain(db: Path, cache: Path) -> None:
    plain = read_store_tables(db)
    cached = read_store_tables(db, cache_dir=cache)
    for name, table in plain.items():
        assert cached[name].schema == table.schema, name
        assert _sorted(cached[name]).equals(_sorted(table)), name


@dataclass
class Scene:
    """One store under test, its backups and where it lives now."""

    worlds: Worlds
    folder: Path
    db: Path
    backups: dict[int, Path] = field(default_factory=dict)

    def replace_with(self, source: Path) -> None:
        """Copy a file over the store, as an operator restoring a backup does."""
        for suffix in ("-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        shutil.copy(source, self.db)


def _row(db: Path, table: str, n: int) -> int:
    """The rowid of the n-th row (modulo the table's size) of a table."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        rowids = [r for (r,) in con.execute(f"SELECT rowid FROM {table} ORDER BY rowid")]
    return rowids[n % len(rowids)] if rowids else 0


def append(s: Scene, n: int) -> None:
    shell(
        s.db,
        "INSERT INTO orders SELECT MAX(order_id) + 1, 1, '2026-02-27', 0, NULL FROM orders;"
        f"INSERT INTO order_items SELECT MAX(order_id), 1, {n % 5 + 1}, 3.5, 0 FROM orders;",
    )


def insert_low_keys(s: Scene, n: int) -> None:
    key = -(n % 1000 + 1)
    shell(
        s.db,
        f"INSERT OR IGNORE INTO impressions VALUES ({key}, 1, 1, '2026-02-02', NULL, NULL);"
        "INSERT OR IGNORE INTO order_items (rowid, order_id, product_id, quantity, unit_price,"
        f" is_promo) SELECT {key}, MIN(order_id), 1, 1, 1, 0 FROM orders;",
    )


def update(s: Scene, n: int) -> None:
    row = _row(s.db, "order_items", n)
    shell(s.db, f"UPDATE order_items SET quantity = quantity + 1 WHERE rowid = {row};")


def update_customer(s: Scene, n: int) -> None:
    shell(s.db, f"UPDATE customers SET business_type = 'hotel' WHERE rowid = {n % 50 + 1};")


def delete(s: Scene, n: int) -> None:
    shell(s.db, f"DELETE FROM impressions WHERE rowid = {_row(s.db, 'impressions', n)};")


def change_unobserved(s: Scene, n: int) -> None:
    """A change with the table's trigger dropped first: only the schema change shows it."""
    row = _row(s.db, "orders", n)
    shell(
        s.db,
        "DROP TRIGGER IF EXISTS contract_watermarks_orders_update;"
        f"UPDATE orders SET store_id = {n} WHERE rowid = {row};",
    )


def import_feed(name: str) -> Callable[[Scene, int], None]:
    def run(s: Scene, n: int) -> None:
        try:
            import_dir(s.db, s.worlds.feeds[name])
        except ContractViolation as exc:  # the other feed came first, or another store
            assert "conflicts with the store" in str(exc) or "references" in str(exc)

    return run


def back_up(s: Scene, n: int) -> None:
    s.backups[n % 2] = Path(shutil.copy(s.db, s.folder / f"backup{n % 2}.db"))


def restore(s: Scene, n: int) -> None:
    s.replace_with(s.backups.get(n % 2, s.worlds.base))


def move(s: Scene, n: int) -> None:
    """Move the store (with its WAL files, if any) to the other of two names."""
    target = s.folder / ("moved.db" if s.db.name == "s.db" else "s.db")
    for suffix in ("-wal", "-shm", ""):
        if Path(f"{s.db}{suffix}").exists():
            shutil.move(f"{s.db}{suffix}", f"{target}{suffix}")
    s.db = target


EVENTS: dict[str, Callable[[Scene, int], None]] = {
    "append": append,
    "insert a low key": insert_low_keys,
    "update": update,
    "update a customer": update_customer,
    "delete": delete,
    "change unobserved": change_unobserved,
    "run's check": lambda s, n: None if check(s.db) else None,
    "import feed a": import_feed("a"),
    "import feed b": import_feed("b"),
    "back up": back_up,
    "restore a backup": restore,
    "copy another store over it": lambda s, n: s.replace_with(s.worlds.other),
    "vacuum": lambda s, n: shell(s.db, "VACUUM;"),
    "move the store": move,
}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(EVENTS)), st.integers(0, 10**6)), min_size=1, max_size=8
    )
)
def test_a_cached_read_equals_a_plain_read_after_any_sequence_of_changes(
    worlds: Worlds, events: list[tuple[str, int]]
) -> None:
    with tempfile.TemporaryDirectory(prefix="offerrank-cache-") as tmp:
        folder = Path(tmp)
        scene = Scene(worlds, folder, Path(shutil.copy(worlds.base, folder / "s.db")))
        cache = folder / "cache"  # one cache folder whatever the store's path
        assert_cache_equals_plain(scene.db, cache)
        for name, n in events:
            EVENTS[name](scene, n)
            assert_cache_equals_plain(scene.db, cache)
            LEDGER.fault(f"history cache after: {name}")


def test_the_named_events_each_happen(worlds: Worlds, tmp_path: Path) -> None:
    """Every event at least once, in a fixed order that exercises the riskiest paths."""
    scene = Scene(worlds, tmp_path, Path(shutil.copy(worlds.base, tmp_path / "s.db")))
    cache = tmp_path / "cache"
    order = [
        "back up", "import feed a", "run's check", "restore a backup", "import feed b",
        "append", "run's check", "vacuum", "run's check", "insert a low key", "update",
        "run's check", "change unobserved", "run's check", "update a customer", "delete",
        "run's check", "move the store", "copy another store over it", "run's check",
    ]  # fmt: skip
    assert set(order) == set(EVENTS)
    assert_cache_equals_plain(scene.db, cache)
    for i, name in enumerate(order):
        EVENTS[name](scene, 7 * i + 3)
        assert_cache_equals_plain(scene.db, cache)


def offerrank(*args: str | Path) -> None:
    """The command line, in this process (a subprocess each would double the time)."""
    with pytest.raises(SystemExit) as done:
        run_app(["-q", *map(str, args)])
    assert done.value.code == 0


def run_metrics(db: Path, day: str) -> dict[str, float]:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return dict(
            con.execute(
                "SELECT metric, value FROM run_metrics WHERE run_date = ?"
                " AND metric NOT LIKE 'duration%' AND metric NOT LIKE 'fit_seconds%'",
                (day,),
            ).fetchall()
        )


def test_a_restored_backup_and_a_corrected_feed_give_the_metrics_of_an_uncached_run(
    two_day_run, tmp_path: Path
) -> None:
    """After the runs of 2026-02-16 and -17: back up -> import a feed -> run D -> restore
    the backup -> import a corrected feed (same ids, rows changed, same last row) -> run D
    again: its metrics are those of a run without the cache on the same store (and not
    those of the first feed, which a stale cache would give)."""
    reference, _, _ = two_day_run
    db, day = tmp_path / "metro.db", "2026-02-18"
    shutil.copy(reference.db_path, db)
    on, off = tmp_path / "on.toml", tmp_path / "off.toml"
    on.write_text(f'bootstrap_samples = 20\nartifacts_dir = "{reference.models_dir}"\n')
    off.write_text(on.read_text() + "history_cache = false\n")
    shutil.copy(db, tmp_path / "backup.db")
    # 60 impressions shown in the days that the run of 2026-02-18 evaluates
    feeds = corrected_feeds(db, tmp_path / "feeds", 60, ("2026-02-04", "2026-02-10"))
    offerrank("--db", db, "--config", on, "import", feeds["a"])
    offerrank("--db", db, "--config", on, "run", "--date", day)
    first_feed = run_metrics(db, day)
    shutil.copy(tmp_path / "backup.db", db)
    offerrank("--db", db, "--config", on, "import", feeds["b"])
    plain = tmp_path / "plain" / "metro.db"
    plain.parent.mkdir()
    shutil.copy(db, plain)
    offerrank("--db", db, "--config", on, "run", "--date", day)
    offerrank("--db", plain, "--config", off, "run", "--date", day)
    assert run_metrics(db, day) == run_metrics(plain, day)
    assert run_metrics(db, day)["auc"] != first_feed["auc"]
    LEDGER.fault("restored backup, then a corrected feed with the same last row")
