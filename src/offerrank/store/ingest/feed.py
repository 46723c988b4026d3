"""Reading a folder of table files for an import: which files count, and how each is read.

A file counts when it is named after a contract table: `<table>.csv`, `<table>.parquet`
(or `.pq`), or compressed CSV `<table>.csv.gz`, `.csv.bz2`, `.csv.zst`. Whatever else
the folder holds is either refused or skipped, never silently:

- refused (a violation naming the file): a table's file in another format or
  compression (`orders.xlsx`, `orders.csv.xz`), two files for one table, a CSV or
  Parquet file named after no table, a folder named after a table (a partitioned
  dataset), a broken symbolic link, a file that cannot be read, a CSV whose header
  names a column twice;
- skipped, and listed in the import's summary with the reason: hidden files, other
  folders, and files of other types named after no table (`README.txt`).

CSV is read as text, so that every value is typed by the contract's rules in SQL.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from offerrank.store.check.violations import Violation, unknown_table
from offerrank.store.contract import INPUTS

# Accepted endings of a table's file: (format, compression)
FORMATS: dict[str, tuple[str, str | None]] = {
    "csv": ("csv", None),
    "csv.gz": ("csv", "gzip"),
    "csv.bz2": ("csv", "bz2"),
    "csv.zst": ("csv", "zstd"),
    "parquet": ("parquet", None),
    "pq": ("parquet", None),
}
ACCEPTED = ", ".join(f".{e}" for e in FORMATS)


@dataclass(frozen=True)
class Skipped:
    """A folder entry the import did not read, and why."""

    name: str
    reason: str


@dataclass
class Feed:
    """The table files of a folder, by table; what is wrong with it; what it skipped."""

    files: dict[str, Path] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _refuse(feed: Feed, table: str, rule: str, note: str) -> None:
    feed.violations.append(Violation(table, "", rule, 0, note=note))


def split_name(name: str) -> tuple[str, str]:
    """`order_items.csv.gz` -> (`order_items`, `csv.gz`): the table, then every ending."""
    table, _, ending = name.partition(".")
    return table, ending.lower()


def table_files(folder: Path) -> Feed:
    """Sort a folder's entries into table files, refusals and skipped entries."""
    feed = Feed()
    for path in sorted(folder.iterdir()):
        table, ending = split_name(path.name)
        named = table in INPUTS
        if path.is_symlink() and not path.exists():
            note = f"{path.name} is a broken symbolic link (to {path.readlink()})"
            _refuse(feed, table if named else path.name, "readable", note)
        elif path.name.startswith("."):
            feed.skipped.append(Skipped(path.name, "hidden"))
        elif path.is_dir() and named:
            note = f"{path.name} is a folder; give the table as one file ({ACCEPTED})"
            _refuse(feed, table, "one file per table", note)
        elif path.is_dir():
            feed.skipped.append(Skipped(path.name, "a folder"))
        elif not named and ending in FORMATS:
            feed.violations.append(unknown_table(table, path.name))
        elif not named:
            feed.skipped.append(Skipped(path.name, "not named after a contract table"))
        elif ending not in FORMATS:
            note = f"{path.name}: unsupported format or compression (use {ACCEPTED})"
            _refuse(feed, table, "CSV or Parquet", note)
        elif table in feed.files:
            note = f"two files for one table: {feed.files[table].name} and {path.name}"
            _refuse(feed, table, "one file per table", note)
        else:
            feed.files[table] = path
    return feed


def read_table_file(name: str, path: Path) -> tuple[pa.Table | None, list[Violation]]:
    """Read one file as Arrow; CSV columns all as text, so that typing happens in SQL."""
    fmt, compression = FORMATS[split_name(path.name)[1]]
    try:
        if fmt == "parquet":
            if doubled := _doubled(name, path, pq.read_schema(path).names):
                return None, doubled
            return pq.read_table(path), []
        if path.stat().st_size == 0:
            return None, [_empty(name, path)]
        with pa.input_stream(str(path), compression=compression) as raw:
            header = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            names = [n.strip() for n in next(csv.reader(header), [])]
        if not any(names):
            return None, [_empty(name, path)]
        if doubled := _doubled(name, path, names):
            return None, doubled
        with pa.input_stream(str(path), compression=compression) as raw:
            return pacsv.read_csv(
                raw,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            ), []
    except (OSError, pa.ArrowException, UnicodeDecodeError, csv.Error) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, [Violation(name, "", "readable", 0, note=f"cannot read {path.name}: {reason}")]


def _empty(name: str, path: Path) -> Violation:
    note = f"{path.name} is empty (no header, no rows); an empty file is a mistake"
    return Violation(name, "", "not empty", 0, note=note)


def _doubled(name: str, path: Path, columns: list[str]) -> list[Violation]:
    """A column named twice: which of the two holds the table's values is anyone's guess."""
    counts = Counter(c for c in columns if c)
    return [
        Violation(
            name,
            column,
            "one column per name",
            0,
            note=f"{path.name} has {n} columns named {column!r}; keep one",
        )  # fmt: skip
        for column, n in counts.items()
        if n > 1
    ]
