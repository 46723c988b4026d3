"""A daily run's contract check of the store: only the rows not checked before.

`validate_store` reads every row (minutes on a store of 15M order lines); a run reads
the rows above each table's watermark (`watermarks`), checks every rule those rows
take part in, and then advances the watermarks in a transaction of their own:

- row rules (types, not null, value and row checks) on the new rows;
- unique keys among the stored rows whose key lies in the new rows' key range;
- references from the new rows into the store;
- when a table is checked from its first row (never checked, or reset by an update or
  delete), the references into it from every row of the tables that refer to it: a
  deleted customer breaks old orders too.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from offerrank.store.check import watermarks
from offerrank.store.check.checker import Checker
from offerrank.store.check.references import only_columns, reference_rule
from offerrank.store.check.rules import row_rules
from offerrank.store.check.violations import Violation, missing_from_store
from offerrank.store.contract import INPUT_TABLES, INPUTS, Reference, Table
from offerrank.store.db import transaction


@dataclass
class StoreCheck:
    """What a contract check of the store read and found."""

    violations: list[Violation] = field(default_factory=list)
    rows_checked: dict[str, int] = field(default_factory=dict)
    from_start: list[str] = field(default_factory=list)  # tables read from their first row
    advanced: list[str] = field(default_factory=list)  # tables whose watermark moved
    seconds: float = 0.0

    def summary(self) -> str:
        rows = sum(self.rows_checked.values())
        whole = f"; whole tables: {', '.join(self.from_start)}" if self.from_start else ""
        return f"contract checked on {rows} new rows in {self.seconds:.2f} s{whole}"


def structure_violations(con: sqlite3.Connection) -> list[Violation]:
    """Missing input tables or contract columns: no row can be checked without them."""
    found = []
    for table in INPUT_TABLES:
        have = {r[1] for r in con.execute(f"PRAGMA table_info({table.name})")}
        if not have:
            found.append(missing_from_store(table.name))
            continue
        found += [missing_from_store(table.name, c) for c in table.column_names if c not in have]
    return found


def check_store(con: sqlite3.Connection, db_path: Path) -> StoreCheck:
    """Check the rows of the store not checked yet; advance the watermarks when clean."""
    t0 = time.perf_counter()
    result = StoreCheck(violations=structure_violations(con))
    if result.violations:
        result.seconds = time.perf_counter() - t0
        return result
    with transaction(con):
        watermarks.ensure(con)
    tables = [t.name for t in INPUT_TABLES]
    seen, high = watermarks.marks(con), watermarks.high_rowids(con, tables)
    todo = {t: (seen.get(t, 0), high[t]) for t in tables if seen.get(t, 0) < high[t]}
    result.from_start = [t for t, (lo, _) in todo.items() if lo == 0]
    if todo:
        with Checker(db_path, set(tables)) as checker:
            result.violations = _check_rows(checker, todo, result)
    if not result.violations:
        with transaction(con):
            result.advanced = [
                t for t, (lo, hi) in todo.items() if watermarks.advance(con, t, lo, hi)
            ]
    result.seconds = time.perf_counter() - t0
    return result


def _check_rows(
    checker: Checker, todo: dict[str, tuple[int, int]], result: StoreCheck
) -> list[Violation]:
    """Stage each table's unchecked rows (`typed_<name>`) and run every rule they meet."""
    assert checker.db is not None
    for name, (lo, hi) in todo.items():
        result.rows_checked[name] = checker.add_store(
            checker.db, INPUTS[name], None, "rowid", lo + 1, hi
        )
    found: list[Violation] = []
    for name in checker.staged:
        found += checker.run_rules(name, row_rules(INPUTS[name]))
    for name in checker.staged:
        if name in result.from_start:
            found += checker.key_violations(INPUTS[name])
        else:
            found += _key_violations(checker, INPUTS[name])
    found += checker.reference_violations()
    found += _references_into(checker, set(result.from_start))
    return found


def _key_violations(checker: Checker, table: Table) -> list[Violation]:
    """Duplicate keys among the stored rows in the new rows' key range (old and new)."""
    if not table.key or not checker.staged.get(table.name):
        return []
    assert checker.db is not None
    first = table.key[0]
    lo, hi = checker.row(f"SELECT min({first}), max({first}) FROM typed_{table.name}")
    if lo is None:
        return checker.key_violations(table)
    relation = f"__key_range_{table.name}"
    only = only_columns(table, table.key, table.key)
    checker.add_store(checker.db, only, relation, first, lo, hi)
    return checker.key_violations(table, relation)


def _references_into(checker: Checker, whole: set[str]) -> list[Violation]:
    """References from every stored row into the tables read whole (their rows changed)."""
    assert checker.db is not None
    found = []
    for table in INPUT_TABLES:
        refs = [ref for ref in table.references if ref.table in whole]
        if not refs or table.name in whole:
            continue  # a table read whole had its references checked with its rows
        for ref in refs:
            found += _reference_from_all_rows(checker, table, ref)
    return found


def _reference_from_all_rows(checker: Checker, table: Table, ref: Reference) -> list[Violation]:
    """Check `ref` on every stored row of `table`; its target was staged whole."""
    assert checker.db is not None
    relation = f"__all_{table.name}_{ref.column}"
    kept = tuple(dict.fromkeys((*table.key, ref.column)))
    only = replace(only_columns(table, kept, table.key), references=(ref,))  # ident: key or ref
    checker.add_store(checker.db, only, relation)
    checker.duck.sql(
        f"CREATE OR REPLACE TEMP TABLE __keys_{ref.table} AS "
        f"SELECT {ref.target} AS k FROM typed_{ref.table}"
    )
    return checker.run_rules(table.name, [reference_rule(table.name, ref, relation)], relation)
