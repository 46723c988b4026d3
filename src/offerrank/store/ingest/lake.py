"""The day-partitioned Parquet layout a cluster reads: a dataset folder per dated table.

`offerrank export DIR --partition-by-day` writes it. Each dated table becomes a folder of
Parquet files partitioned hive-style by its day (`orders/order_date=2026-02-16/part-0.parquet`),
so that a Spark job needing a window of days lists and reads only those days' folders.
Order lines carry no date of their own and are filed under their order's date (the
folder's `order_date` is not one of their columns). Customers, products and offers are
read whole by every run and stay one file each. Values are typed as the flat export types
them: dates are `YYYY-MM-DD` text, in the files and in the folder names.

The export is staged: every table is first written to a hidden entry beside its final
name, and only when all of them are written are they renamed into place, each replacing
the table's entry of the previous export in either layout. A crash while writing leaves
the previous export as it was; the next export removes the hidden leftovers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from offerrank.store.check.append import output_columns
from offerrank.store.contract import INPUT_TABLES, Table

# The day each dated table is partitioned by (order lines: their order's date).
DAY_COLUMNS: dict[str, str] = {
    "orders": "order_date",
    "order_items": "order_date",
    "impressions": "shown_date",
    "redemptions": "redeemed_date",
}
# Every name a table's export may have, in either layout.
_ENTRIES = ("{name}", "{name}.parquet", "{name}.csv")


def lake_select(table: Table) -> str:
    """The export's rows of `table` over the checker's typed views, in source order; order
    lines get their order's date (NULL for a line without an order) to be filed under."""
    columns = output_columns(table)
    if table.name != "order_items":
        return f"SELECT {columns} FROM typed_{table.name} ORDER BY __row"
    return (
        f"SELECT {columns}, strftime(o.day, '%Y-%m-%d') AS order_date"
        " FROM typed_order_items LEFT JOIN"
        " (SELECT order_id AS id, order_date AS day FROM typed_orders) AS o"
        " ON typed_order_items.order_id = o.id ORDER BY __row"
    )


def final_name(table: str) -> str:
    """Where a table lives in the layout: a folder when dated, a Parquet file otherwise."""
    return table if table in DAY_COLUMNS else f"{table}.parquet"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


class LakeWriter:
    """Stages each table's data, then (on a clean exit) moves them all into place."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.staged: dict[str, Path | None] = {}

    def __enter__(self) -> LakeWriter:
        self.folder.mkdir(parents=True, exist_ok=True)
        for table in INPUT_TABLES:  # what a crashed export left
            for suffix in (".partial", ".old"):
                _remove(self.folder / f".{final_name(table.name)}{suffix}")
        return self

    def add(self, table: str, data: pa.Table) -> None:
        """Write one table beside its final name; an empty table gets no entry."""
        if data.num_rows == 0:
            self.staged[table] = None
            return
        partial = self.folder / f".{final_name(table)}.partial"
        day = DAY_COLUMNS.get(table)
        if day is None:
            pq.write_table(data, partial)
        else:
            pads.write_dataset(
                data,
                partial,
                format="parquet",
                partitioning=pads.partitioning(pa.schema([data.schema.field(day)]), flavor="hive"),
                basename_template="part-{i}.parquet",
                preserve_order=True,
            )
        self.staged[table] = partial

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is not None:
            for partial in self.staged.values():
                if partial is not None:
                    _remove(partial)
            return
        for table, partial in self.staged.items():
            self._move_into_place(table, partial)

    def _move_into_place(self, table: str, partial: Path | None) -> None:
        """Replace the table's previous entry (in either layout) with the staged one."""
        final = self.folder / final_name(table)
        old = self.folder / f".{final.name}.old"
        if partial is not None:
            if final.is_dir():
                final.rename(old)
            os.replace(partial, final)
            _remove(old)
        for entry in _ENTRIES:
            other = self.folder / entry.format(name=table)
            if other != final or partial is None:
                _remove(other)
