"""Import a folder of CSV or Parquet files into the store, and export the store to one.

An import is all or nothing. Every contract rule is checked (`validate.Checker`) while
the store's write lock is held, before anything is written; the new rows are then
inserted in the same SQLite transaction. On any violation or crash the store is exactly
as before, and a store that the import itself created is deleted again.

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
the same tables.
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from offerrank.errors import ContractViolation, OfferrankError
from offerrank.store import outputs, watermarks
from offerrank.store.contract import INPUT_TABLES, INPUTS, Table
from offerrank.store.db import (
    StoreError,
    connect,
    create_input_tables,
    insert_arrow,
    transaction,
)
from offerrank.store.validate import (
    EXAMPLES,
    Checker,
    Violation,
    raise_on_violations,
    store_tables,
    unknown_table,
)

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class TableImport:
    table: str
    file: str
    rows_in_file: int
    rows_added: int


@dataclass
class ImportSummary:
    db_path: Path
    folder: Path
    created: bool
    tables: list[TableImport] = field(default_factory=list)

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
        return "\n".join(lines)


@dataclass
class ExportSummary:
    db_path: Path
    folder: Path
    fmt: str
    rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "db_path": str(self.db_path),
            "folder": str(self.folder),
            "format": self.fmt,
            "rows": dict(self.rows),
        }

    def describe(self) -> str:
        lines = [f"exported {self.db_path} to {self.folder} as {self.fmt}"]
        lines += [f"  {name:<12} {n:>9} rows" for name, n in self.rows.items()]
        return "\n".join(lines)


# -- import -----------------------------------------------------------------------------
def import_dir(db_path: Path, folder: Path) -> ImportSummary:
    """Check a folder of table files against the contract and the store, then append it."""
    db_path, folder = Path(db_path), Path(folder)
    if not folder.is_dir():
        raise OfferrankError(f"not a folder: {folder}")
    files, violations = table_files(folder)
    if not files and not violations:
        raise ContractViolation(
            f"{folder}: no table files; expected files named {', '.join(INPUTS)} (.csv or .parquet)"
        )
    created = not db_path.exists()
    con = connect(db_path, create=True)
    try:
        with transaction(con):  # the write lock: nothing changes the store while we check
            present = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            summary = ImportSummary(db_path, folder, created)
            with Checker(None if created else db_path, present) as checker:
                for name, path in files.items():
                    data, problem = read_table_file(name, path)
                    if problem is not None:
                        violations.append(problem)
                    elif data is not None:
                        checker.add_arrow(name, data, path.name)
                raise_on_violations(violations + checker.check())
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


def table_files(folder: Path) -> tuple[dict[str, Path], list[Violation]]:
    """The table files of a folder by table name; unknown or doubled names are violations."""
    files: dict[str, Path] = {}
    violations = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        name = path.name[: -len(path.suffix)] if path.suffix else path.name
        if path.suffix.lower() not in FORMATS:
            if name in INPUTS:
                violations.append(
                    Violation(
                        name,
                        "",
                        "CSV or Parquet",
                        0,
                        note=(f"{path.name}: unsupported format (use .csv or .parquet)"),
                    )
                )
        elif name not in INPUTS:
            violations.append(unknown_table(name, path.name))
        elif name in files:
            violations.append(
                Violation(
                    name,
                    "",
                    "one file per table",
                    0,
                    note=(f"two files for one table: {files[name].name} and {path.name}"),
                )
            )
        else:
            files[name] = path
    return files, violations


def read_table_file(name: str, path: Path) -> tuple[pa.Table | None, Violation | None]:
    """Read one file as Arrow; CSV columns all as text, so that typing happens in SQL."""
    empty = Violation(
        name,
        "",
        "not empty",
        0,
        note=(f"{path.name} is empty (no header, no rows); an empty file is a mistake"),
    )
    try:
        if FORMATS[path.suffix.lower()] == "parquet":
            return pq.read_table(path), None
        if path.stat().st_size == 0:
            return None, empty
        with path.open(newline="", encoding="utf-8-sig") as f:
            names = [n.strip() for n in next(csv.reader(f), [])]
        if not any(names):
            return None, empty
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        ), None
    except (OSError, pa.ArrowException, UnicodeDecodeError, csv.Error) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, Violation(name, "", "readable", 0, note=f"cannot read {path.name}: {reason}")


# -- the append rules ---------------------------------------------------------------------
def store_conflicts(checker: Checker) -> list[Violation]:
    """Stage the stored rows that overlap the batch (`stored_<name>`) and compare them."""
    assert checker.db is not None
    found: list[Violation] = []
    for name in checker.staged:
        table = INPUTS[name]
        if name not in checker.in_store:
            continue
        bound = table.key[0] if table.key else table.references[0].column
        lo, hi = checker.row(f"SELECT min({bound}), max({bound}) FROM typed_{name}")
        if lo is None:
            continue
        checker.add_store(checker.db, table, f"stored_{name}", bound, lo, hi)
        checker.stored.add(name)
        found += _keyed_conflicts(checker, table) if table.key else _item_conflicts(checker, table)
    return found


def _keyed_conflicts(checker: Checker, table: Table) -> list[Violation]:
    """A key the store holds must come with the same values (compared typed, day of dates)."""
    on = " AND ".join(f"f.{k} = s.{k}" for k in table.key)
    columns = [c.name for c in table.columns if c.name not in table.key]
    parts = []
    for c in columns:
        differs = f"f.{c} IS DISTINCT FROM s.{c}"
        example = (
            f"f.__id || ' ({c}: file ' || coalesce(f.{c}__raw, 'null') || "
            f"', store ' || coalesce(s.{c}__raw, 'null') || ')'"
        )
        parts.append(
            f"count(*) FILTER (WHERE {differs}), "
            f"min({example}, {EXAMPLES}) FILTER (WHERE {differs})"
        )
    row = checker.row(
        f"SELECT {', '.join(parts)} FROM typed_{table.name} f JOIN stored_{table.name} s ON {on}"
    )
    rule = "same as the stored row (conflicts with the store)"
    return [
        Violation(table.name, c, rule, int(row[2 * i]), list(row[2 * i + 1]))
        for i, c in enumerate(columns)
        if row[2 * i]
    ]


def _item_conflicts(checker: Checker, table: Table) -> list[Violation]:
    """Items of an order the store holds items of must be exactly the stored items."""
    parent = table.references[0].column
    cols = ", ".join(table.column_names)
    f, s = f"typed_{table.name}", f"stored_{table.name}"
    overlap = "WHERE EXISTS (SELECT 1 FROM {other} o WHERE o.{p} = x.{p})"
    sql = f"""
        WITH f AS (SELECT {cols} FROM {f} x {overlap.format(other=s, p=parent)}),
             s AS (SELECT {cols} FROM {s} x {overlap.format(other=f, p=parent)}),
             d AS (SELECT {parent} FROM (SELECT * FROM f EXCEPT ALL SELECT * FROM s)
                   UNION SELECT {parent} FROM (SELECT * FROM s EXCEPT ALL SELECT * FROM f))
        SELECT count(*), min(__id, {EXAMPLES}) FROM {f} WHERE {parent} IN (SELECT {parent} FROM d)
    """
    n, examples = checker.row(sql)
    if not n:
        return []
    rule = "items of an order already in the store are final (conflicts with the store)"
    return [Violation(table.name, parent, rule, int(n), list(examples))]


def new_rows(checker: Checker, table: Table) -> pa.Table:
    """The batch's rows that the store does not hold yet, in file order, as stored."""
    where = "TRUE"
    if table.name in checker.stored:
        match = table.key or (table.references[0].column,)
        on = " AND ".join(f"s.{k} = t.{k}" for k in match)
        where = f"NOT EXISTS (SELECT 1 FROM stored_{table.name} s WHERE {on})"
    return checker.duck.sql(
        f"SELECT {output_columns(table)} FROM typed_{table.name} t WHERE {where} ORDER BY __row"
    ).to_arrow_table()


def output_columns(table: Table) -> str:
    return ", ".join(
        f"strftime({c.name}, '%Y-%m-%d') AS {c.name}" if c.kind == "date" else c.name
        for c in table.columns
    )


# -- export -----------------------------------------------------------------------------
def export_dir(db_path: Path, folder: Path, fmt: str = "parquet") -> ExportSummary:
    """Write every contract table to `folder` as `<table>.parquet` or `<table>.csv`.

    Values are typed as the contract says (dates as `YYYY-MM-DD` text); a store holding
    a value of the wrong type is refused rather than exported in a form that would not
    import. An empty table gets no file (an import refuses empty files). Each file is
    written beside its final name and then renamed into place.
    """
    db_path, folder = Path(db_path), Path(folder)
    if fmt not in ("parquet", "csv"):
        raise OfferrankError(f"unknown export format {fmt!r} (use parquet or csv)")
    if not db_path.exists():
        raise StoreError(f"store not found: {db_path}")
    missing = [t.name for t in INPUT_TABLES if t.name not in store_tables(db_path)]
    if missing:
        raise StoreError(f"{db_path} lacks contract tables: {', '.join(missing)}")
    folder.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary(db_path, folder, fmt)
    with Checker(None) as checker:
        for table in INPUT_TABLES:
            checker.add_store(db_path, table)
        raise_on_violations(checker.check(typing_only=True))
        for table in INPUT_TABLES:
            data = checker.duck.sql(
                f"SELECT {output_columns(table)} FROM typed_{table.name} ORDER BY __row"
            ).to_arrow_table()
            final = folder / f"{table.name}.{fmt}"
            summary.rows[table.name] = data.num_rows
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
