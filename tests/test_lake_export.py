"""`offerrank export --partition-by-day`: the layout a Spark cluster reads, typed as the
flat export, replaced whole by a rerun and left as it was by a failed one."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from cli_driver import invoke
from offerrank.store.ingest import lake
from offerrank.store.ingest.io import export_dir

DATED = {"orders", "order_items", "impressions", "redemptions"}


def read_dataset(folder: Path) -> pa.Table:
    """A hive-partitioned folder with its partition column as text, as exported."""
    day = lake.DAY_COLUMNS[folder.name]
    partitioning = pads.partitioning(pa.schema([(day, pa.string())]), flavor="hive")
    return pads.dataset(folder, format="parquet", partitioning=partitioning).to_table()


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def exports(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("exports")
    export_dir(tiny_world, root / "flat")
    export_dir(tiny_world, root / "lake", partition_by_day=True)
    return root / "flat", root / "lake"


def test_dated_tables_are_day_folders_with_the_flat_exports_values(exports) -> None:
    flat, lake_dir = exports
    names = {p.name for p in lake_dir.iterdir()}
    assert names == DATED | {"customers.parquet", "products.parquet", "offers.parquet"}
    orders = pq.read_table(flat / "orders.parquet")
    for name in DATED:
        day = lake.DAY_COLUMNS[name]
        data = read_dataset(lake_dir / name)
        expected = pq.read_table(flat / f"{name}.parquet")
        folders = {p.name for p in (lake_dir / name).iterdir()}
        if name == "order_items":  # filed under its order's date, not a column of its own
            dates = orders.select(["order_id", "order_date"]).rename_columns(["order_id", day])
            expected = expected.join(dates, "order_id")
        assert folders == {f"{day}={d}" for d in pa.compute.unique(expected[day]).to_pylist()}
        keys = [(c, "ascending") for c in expected.column_names]
        assert data.select(expected.column_names).sort_by(keys).equals(expected.sort_by(keys))
        # every file holds the contract columns typed as the flat export, minus the day
        some_file = next((lake_dir / name).rglob("*.parquet"))
        kept = pa.schema([f for f in pq.read_schema(flat / f"{name}.parquet") if f.name != day])
        assert pq.read_schema(some_file).equals(kept, check_metadata=False), name
    for name in ("customers", "products", "offers"):
        assert pq.read_table(lake_dir / f"{name}.parquet").equals(
            pq.read_table(flat / f"{name}.parquet")
        )


def test_a_rerun_replaces_the_export_in_either_layout(
    world_db: Path, tmp_path: Path, exports
) -> None:
    _, lake_dir = exports
    folder = tmp_path / "out"
    export_dir(world_db, folder)  # flat first: the partitioned export replaces it
    last = max(p.name for p in (lake_dir / "impressions").iterdir()).split("=")[1]
    with sqlite3.connect(world_db) as con:
        con.execute("DELETE FROM impressions WHERE shown_date = ?", (last,))
    con.close()
    (folder / ".orders.partial").mkdir()  # what a killed export left behind
    export_dir(world_db, folder, partition_by_day=True)
    assert not (folder / "orders.parquet").exists() and not (folder / ".orders.partial").exists()
    days = {p.name for p in (folder / "impressions").iterdir()}
    assert (
        f"shown_date={last}" not in days
        and len(days) == len(list((lake_dir / "impressions").iterdir())) - 1
    )
    export_dir(world_db, folder)  # and back: no dataset folder is left beside the file
    assert not (folder / "orders").exists() and (folder / "orders.parquet").is_file()


def test_a_failed_export_leaves_the_previous_one(
    world_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "out"
    export_dir(world_db, folder, partition_by_day=True)
    before = listing(folder)
    with sqlite3.connect(world_db) as con:
        con.execute("UPDATE customers SET business_type = 'changed'")
    con.close()
    real = lake.LakeWriter.add

    def add(self: lake.LakeWriter, table: str, data: pa.Table) -> None:
        if table == "impressions":
            raise OSError(28, "No space left on device")
        real(self, table, data)

    monkeypatch.setattr(lake.LakeWriter, "add", add)
    with pytest.raises(OSError, match="No space"):
        export_dir(world_db, folder, partition_by_day=True)
    assert listing(folder) == before  # customers were staged, and are not in place
    assert sorted(p.name for p in folder.iterdir()) == sorted({Path(k).parts[0] for k in before})


def test_the_cli_exports_by_day_and_refuses_csv(world_db: Path, tmp_path: Path) -> None:
    out = invoke(["--db", world_db, "export", tmp_path / "lake", "--partition-by-day"])
    assert out.code == 0 and out.traceback is None, out
    assert "partitioned by day" in out.out and (tmp_path / "lake" / "orders").is_dir()
    refused = invoke(
        ["--db", world_db, "export", tmp_path / "x", "--format", "csv", "--partition-by-day"]
    )
    assert refused.code == 2 and len(refused.err_lines) == 1, refused
    assert "--partition-by-day" in refused.err and not (tmp_path / "x").exists()


def test_an_empty_dated_table_has_no_folder(world_db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    export_dir(world_db, folder, partition_by_day=True)
    with sqlite3.connect(world_db) as con:
        con.execute("DELETE FROM redemptions")
    con.close()
    summary = export_dir(world_db, folder, partition_by_day=True)
    assert summary.rows["redemptions"] == 0 and not (folder / "redemptions").exists()
    shutil.rmtree(folder)
