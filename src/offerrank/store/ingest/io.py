"""Import a folder of CSV or Parquet files into the store, and export the store to one.

An import is all or nothing. Every contract rule is checked (`checker.Checker`, and
`append.store_conflicts` for the rows the store holds) while the store's write lock is
held, before anything is written; the new rows are then inserted in the same SQLite
transaction. On any violation or crash the store is exactly as before, and a store
that the import itself created is deleted again.

Appending (the daily feed) never duplicates a row:
- a keyed row whose key the store holds is skipped when every value agrees (so a
  re-import adds 0 rows) and is a violation ("conflicts with the store") otherwise;
- order_items have no key and belong to their order: once the store holds items of an
  order they are final. Items of such an order in the folder must be exactly the
  stored ones (as a multiset) and are skipped; any difference is a violation, since a
  re-sent basket cannot be told apart from extra lines added to it.

Dates are stored as `YYYY-MM-DD` text (the day of a timestamp), numbers as INTEGER or
REAL, flags as 0/1. Export writes each contract table, contract columns in contract
order, as Parquet (default) or CSV; importing the export into an empty store gives
the same tables. `partition_by_day` writes the layout a Spark cluster reads instead
(`store.ingest.lake`: a folder per dated table, partitioned by day).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from offerrank.errors import ContractViolation, UsageError
from offerrank.store.check import watermarks
from offerrank.store.check.append import new_rows, output_columns, store_conflicts
from offerrank.store.check.checker import Checker
from offerrank.store.check.introspect import store_tables
from offerrank.store.check.violations import raise_on_violations
from offerrank.store.contract import INPUT_TABLES, INPUTS
from offerrank.store.db import (
    StoreError,
    connect,
    create_input_tables,
    insert_arrow,
    require_store,
    transaction,
)
from offerrank.store.ingest.feed import ACCEPTED, Skipped, read_table_file, table_files
from offerrank.store.ingest.lake import LakeWriter, lake_select
from offerrank.store.results import outputs


@dataclass
class TableImport:
    table: str
    file: str
    rows_in_file: int
    rows_added: int


@dataclass
class ImportSummary:
    """What an import read (a file per table, rows added) and what it skipped, and why."""

    db_path: Path
    folder: Path
    created: bool
    tables: list[TableImport] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def rows_added(self) -> int:
        return sum(t.rows_added for t in self.tables)

    def as_dict(self) -> dict:
        return {
            "db_path": str(self.db_path),
            "folder": str(self.folder),
            "created": self.created,
            "rows_added": self.rows_added,
            "tables": [asdict(t) for t in self.tables],
            "skipped": [asdict(s) for s in self.skipped],
        }

    def describe(self) -> str:
        lines = [
            f"imported {self.folder} into {self.db_path}"
            f"{' (new store)' if self.created else ''}: {self.rows_added} rows added"
        ]
        lines += [
            f"  {t.table:<12} {t.rows_added:>9} added, "
            f"{t.rows_in_file - t.rows_added} already in the store ({t.file})"
            for t in self.tables
        ]
        lines += [f"  skipped {s.name}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


@dataclass
class ExportSummary:
    db_path: Path
    folder: Path
    fmt: str
    partition_by_day: bool = False
    rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "db_path": str(self.db_path),
            "folder": str(self.folder),
            "format": self.fmt,
            "partition_by_day": self.partition_by_day,
            "rows": dict(self.rows),
        }

    def describe(self) -> str:
        layout = ", dated tables partitioned by day" if self.partition_by_day else ""
        lines = [f"exported {self.db_path} to {self.folder} as {self.fmt}{layout}"]
        lines += [f"  {name:<12} {n:>9} rows" for name, n in self.rows.items()]
        return "\n".join(lines)


# -- import -----------------------------------------------------------------------------
def import_dir(db_path: Path, folder: Path) -> ImportSummary:
    """Check a folder of table files against the contract and the store, then append it."""
    db_path, folder = Path(db_path), Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder (import reads a folder of table files)")
    feed = table_files(folder)
    files, violations = feed.files, feed.violations
    if not files and not violations:
        skipped = f" (skipped: {', '.join(s.name for s in feed.skipped)})" if feed.skipped else ""
        raise ContractViolation(
            f"{folder}: no table files; expected files named {', '.join(INPUTS)}"
            f" ({ACCEPTED}){skipped}"
        )
    created = not db_path.exists()
    con = connect(db_path, create=True)
    try:
        with transaction(con):  # the write lock: nothing changes the store while we check
            present = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            summary = ImportSummary(db_path, folder, created, skipped=feed.skipped)
            with Checker(None if created else db_path, present) as checker:
                for name, path in files.items():
                    data, problems = read_table_file(name, path)
                    violations += problems
                    if data is not None:
                        checker.add_arrow(name, data, path.name)
                appending = store_conflicts(checker) if checker.db else []
                raise_on_violations(violations + checker.check() + appending)
                create_input_tables(con)
                caught_up = watermarks.before_append(con)
                for table in INPUT_TABLES:
                    if table.name in checker.staged:
                        added = insert_arrow(con, table.name, new_rows(checker, table))
                        summary.tables.append(
                            TableImport(
                                table.name,
                                files[table.name].name,
                                checker.staged[table.name],
                                added,
                            )
                        )
                watermarks.after_append(con, caught_up)  # checked above: no need to recheck
                outputs.clear_recall_days(con)  # new rows may predate any measured day
    except BaseException:
        con.close()
        if created:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        raise
    con.close()
    return summary


# -- export -----------------------------------------------------------------------------
def export_dir(
    db_path: Path, folder: Path, fmt: str = "parquet", *, partition_by_day: bool = False
) -> ExportSummary:
    """Write every contract table to `folder` as `<table>.parquet` or `<table>.csv`, or
    with `partition_by_day` in the layout of `store.ingest.lake`.

    Values are typed as the contract says (dates as `YYYY-MM-DD` text); a store holding
    a value of the wrong type is refused rather than exported in a form that would not
    import. An empty table gets no file (an import refuses empty files). Each file is
    written beside its final name and then renamed into place; it replaces the table's
    dataset folder of an earlier partitioned export, which a reader would otherwise
    find beside it.
    """
    db_path, folder = Path(db_path), Path(folder)
    if fmt not in ("parquet", "csv"):
        raise UsageError(f"--format {fmt}: unknown export format (use parquet or csv)")
    if partition_by_day and fmt != "parquet":
        raise UsageError(f"--partition-by-day writes Parquet only, not --format {fmt}")
    require_store(db_path)
    missing = [t.name for t in INPUT_TABLES if t.name not in store_tables(db_path)]
    if missing:
        raise StoreError(f"{db_path} lacks contract tables: {', '.join(missing)}")
    folder.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary(db_path, folder, fmt, partition_by_day)
    with Checker(None) as checker:
        for table in INPUT_TABLES:
            checker.add_store(db_path, table)
        raise_on_violations(checker.check(typing_only=True))
        if partition_by_day:
            with LakeWriter(folder) as lake:
                for table in INPUT_TABLES:
                    data = checker.duck.sql(lake_select(table)).to_arrow_table()
                    summary.rows[table.name] = data.num_rows
                    lake.add(table.name, data)
            return summary
        for table in INPUT_TABLES:
            data = checker.duck.sql(
                f"SELECT {output_columns(table)} FROM typed_{table.name} ORDER BY __row"
            ).to_arrow_table()
            final = folder / f"{table.name}.{fmt}"
            summary.rows[table.name] = data.num_rows
            if (folder / table.name).is_dir():  # a partitioned export's dataset
                shutil.rmtree(folder / table.name)
            if data.num_rows == 0:  # an empty file would be refused on import
                final.unlink(missing_ok=True)
                continue
            partial = folder / f".{table.name}.{fmt}.partial"
            if fmt == "parquet":
                pq.write_table(data, partial)
            else:
                pacsv.write_csv(data, partial, pacsv.WriteOptions(quoting_style="needed"))
            os.replace(partial, final)
    return summary
