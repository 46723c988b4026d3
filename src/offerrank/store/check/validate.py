"""Contract validation of whole tables: Arrow tables (`validate_tables`) or a store
(`validate_store`), every rule of `contract.py` checked in DuckDB SQL over Arrow.

Whatever the source (a CSV or Parquet file, an Arrow table, a table of the store), each
contract column is first turned into text and then typed in SQL with a pattern and
TRY_CAST, so a value of the wrong type is reported with the value itself and never
coerced: "abc" in a quantity or "2024-13-45" in a date is a violation, not a NULL.
Empty text counts as missing (a CSV file cannot tell the two apart).

Dates: a date column holds `YYYY-MM-DD`, optionally followed by a time of day
(`YYYY-MM-DD HH:MM:SS`, `...T...`, with or without a zone); only the day as written
counts. Typed dates are DuckDB DATEs, so an import stores every date as `YYYY-MM-DD`.

Rules, each named in messages: column present, not empty, the type of each column,
not null, flags in {0, 1}, column checks (`> 0`, `0 < x < 1`, `in (1, 2, 3)` ...), row
checks (`start_date <= end_date`), unique keys, references (into the batch or the
store) and, when appending, agreement with the rows the store already holds.

The work is split by job, and each name is imported from the module that owns it:
`rules` (the SQL of each rule), `checker` (staging and row and key checks),
`references`, `append` (agreement with the store), `introspect` (reading the store),
`violations` (messages), and `incremental` (a daily run's check of only the rows not
yet checked).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from offerrank.store.check.append import store_conflicts
from offerrank.store.check.checker import Checker
from offerrank.store.check.introspect import store_columns
from offerrank.store.check.violations import Violation, missing_from_store, unknown_table
from offerrank.store.contract import INPUT_TABLES, INPUTS


def validate_tables(
    tables: dict[str, pa.Table], *, existing_db: Path | None = None
) -> list[Violation]:
    """Check every contract rule on Arrow tables named after contract tables.

    With `existing_db`, references may resolve into the store, and a row whose key the
    store already holds must agree with it (the append case of an import).
    """
    unknown = [unknown_table(name, f"table {name!r}") for name in tables if name not in INPUTS]
    with Checker(existing_db) as checker:
        for name, data in tables.items():
            if name in INPUTS:
                checker.add_arrow(name, data, f"table {name}")
        found = checker.check()
        return unknown + found + (store_conflicts(checker) if checker.db else [])


def validate_store(db_path: Path) -> list[Violation]:
    """Check every contract rule on the input tables already in a store (all their rows).

    This reads every row; a daily run checks only the rows it has not checked yet
    (`offerrank.store.check.incremental.check_store`).
    """
    present = store_columns(db_path)
    with Checker(None) as checker:
        for table in INPUT_TABLES:
            if table.name not in present:
                checker.violations.append(missing_from_store(table.name))
                continue
            checker.violations += [
                missing_from_store(table.name, c)
                for c in table.column_names
                if c not in present[table.name]
            ]
            checker.add_store(db_path, table)
        return checker.check()
