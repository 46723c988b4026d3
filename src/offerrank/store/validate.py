"""Contract validation: every rule of `contract.py`, checked in DuckDB SQL over Arrow.

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
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pyarrow as pa

from offerrank.errors import ContractViolation
from offerrank.store.contract import INPUT_TABLES, INPUTS, Column, Reference, Table
from offerrank.store.db import query_arrow

EXAMPLES = 3  # offending keys quoted per violation
_INT = r"[+-]?[0-9]+(\.0*)?"
_REAL = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T].+)?"
TYPE_RULES = {"int": "integer", "real": "number", "date": "date YYYY-MM-DD", "flag": "0 or 1"}


@dataclass
class Violation:
    """One broken rule: where, which rule, how many rows, a few offending keys.

    `count` is 0 for a problem with a whole file or table; `note` then says what.
    """

    table: str
    column: str
    rule: str
    count: int
    examples: list = field(default_factory=list)
    note: str = ""

    def line(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        if self.note:
            return f"{where}: {self.note}"
        rows = "row" if self.count == 1 else "rows"
        examples = f" (e.g. {'; '.join(map(str, self.examples))})" if self.examples else ""
        return f'{where}: rule "{self.rule}" broken by {self.count} {rows}{examples}'

    def __str__(self) -> str:
        return self.line()


def raise_on_violations(violations: list[Violation]) -> None:
    """Raise one ContractViolation naming the tables, then one line per violation."""
    if not violations:
        return
    tables = ", ".join(dict.fromkeys(v.table for v in violations))
    n = len(violations)
    head = f"{tables}: data contract violated ({n} {'problem' if n == 1 else 'problems'})"
    raise ContractViolation("\n".join([head, *(f"  {v.line()}" for v in violations)]))


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
        return unknown + checker.check()


def validate_store(db_path: Path) -> list[Violation]:
    """Check every contract rule on the input tables already in a store."""
    present = store_columns(db_path)
    with Checker(None) as checker:
        for table in INPUT_TABLES:
            if table.name in present:
                checker.violations += [
                    Violation(
                        table.name, c, "column present", 0, note="column missing from the store"
                    )
                    for c in table.column_names
                    if c not in present[table.name]
                ]
                checker.add_store(db_path, table)
            else:
                checker.violations.append(
                    Violation(
                        table.name, "", "table present", 0, note="table missing from the store"
                    )
                )
        return checker.check()


def unknown_table(name: str, source: str) -> Violation:
    valid = ", ".join(INPUTS)
    return Violation(
        name, "", "known table", 0, note=f"unknown table name in {source} (valid names: {valid})"
    )


# -- reading the store ----------------------------------------------------------------
def store_tables(db_path: Path) -> set[str]:
    rows = query_arrow(db_path, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    return set(rows.column(0).to_pylist())


def store_columns(db_path: Path) -> dict[str, set[str]]:
    """The column names of every table of the store."""
    pairs = query_arrow(
        db_path,
        "SELECT m.name, p.name FROM sqlite_master m "
        "JOIN pragma_table_info(m.name) p WHERE m.type = 'table'",
    )
    columns: dict[str, set[str]] = {}
    for table, column in zip(*(pairs.column(i).to_pylist() for i in range(2)), strict=True):
        columns.setdefault(table, set()).add(column)
    return columns


def read_store(
    db_path: Path,
    table: Table,
    bound: str | None = None,
    lo: int | None = None,
    hi: int | None = None,
    have: set[str] | None = None,
) -> pa.Table:
    """A store table as Arrow, losslessly, whatever SQLite's dynamic types hold.

    Numbers come typed (`c__n`), anything else as text (`c__t`): reading a REAL as text
    in SQLite would round it. A first probe row fixes each column's Arrow type, which
    the reader otherwise guesses from the first rows (all NULL, say). Columns missing
    from the store read as NULL. `bound` limits the rows to `lo <= bound <= hi`.
    """
    if have is None:
        have = store_columns(db_path).get(table.name, set())
    probe, body = ["1 AS __probe"], ["0"]
    for c in table.columns:
        v = c.name if c.name in have else "NULL"
        if c.kind in ("int", "flag", "real"):
            num = "'integer', 'real'" if c.kind == "real" else "'integer'"
            probe.append(f"{'0.5' if c.kind == 'real' else '0'} AS {c.name}__n")
            cast = "REAL" if c.kind == "real" else "INTEGER"
            body.append(f"CASE WHEN typeof({v}) IN ({num}) THEN CAST({v} AS {cast}) END")
            probe.append(f"'' AS {c.name}__t")
            body.append(f"CASE WHEN typeof({v}) NOT IN ({num}, 'null') THEN CAST({v} AS TEXT) END")
        else:
            probe.append(f"'' AS {c.name}__t")
            body.append(f"CAST({v} AS TEXT)")
    where = f" WHERE {bound} BETWEEN ? AND ?" if bound else ""
    sql = f"SELECT {', '.join(probe)} UNION ALL SELECT {', '.join(body)} FROM {table.name}{where}"
    return query_arrow(db_path, sql, [lo, hi] if bound else ())


# -- SQL for the rules ----------------------------------------------------------------
def text_expr(column: Column, src: str) -> str:
    text = f"CAST({src} AS VARCHAR)"
    return f"nullif({text if column.kind == 'text' else f'trim({text})'}, '')"


def typed_expr(column: Column, raw: str) -> str:
    """SQL typing the text `raw` per the column's kind; NULL when it is not of that type."""
    if column.kind in ("int", "flag"):
        return f"CASE WHEN regexp_full_match({raw}, '{_INT}') THEN TRY_CAST({raw} AS BIGINT) END"
    if column.kind == "real":
        num = f"TRY_CAST({raw} AS DOUBLE)"
        return f"CASE WHEN regexp_full_match({raw}, '{_REAL}') AND isfinite({num}) THEN {num} END"
    if column.kind == "date":
        ok = f"(length({raw}) = 10 OR TRY_CAST({raw} AS TIMESTAMPTZ) IS NOT NULL)"
        return (
            f"CASE WHEN regexp_full_match({raw}, '{_DATE}') AND {ok} "
            f"THEN TRY_CAST(left({raw}, 10) AS DATE) END"
        )
    return raw


def ident_columns(table: Table) -> tuple[str, ...]:
    """Columns that identify a row in messages: the key, else the references."""
    return table.key or tuple(r.column for r in table.references)


@dataclass(frozen=True)
class Rule:
    column: str
    name: str
    condition: str  # SQL over a typed table, true for offending rows
    typing: bool = False  # a type or presence rule (the ones export insists on)


def row_rules(table: Table) -> list[Rule]:
    """Every rule of one table that a single row can break, as SQL conditions."""
    rules = []
    for c in table.columns:
        n, raw = c.name, f"{c.name}__raw"
        if not c.nullable:
            rules.append(Rule(n, "not null", f"{raw} IS NULL"))
        if c.kind == "flag":
            rules.append(
                Rule(
                    n,
                    TYPE_RULES[c.kind],
                    f"{raw} IS NOT NULL AND ({n} IS NULL OR {n} NOT IN (0, 1))",
                    True,
                )
            )
        elif c.kind != "text":
            rules.append(Rule(n, TYPE_RULES[c.kind], f"{raw} IS NOT NULL AND {n} IS NULL", True))
        if c.check:
            rules.append(Rule(n, c.check_name or c.check, f"{n} IS NOT NULL AND NOT ({c.check})"))
    rules += [Rule(col, name, f"NOT ({pred})") for col, name, pred in table.row_checks]
    return rules


def example_sql(table: Table, column: str | None) -> str:
    """An offending row in a message: its ident, and the value when it is not in the ident."""
    if column is None or column in ident_columns(table):
        return "__id"
    return f"__id || ' ({column}=' || coalesce({column}__raw, 'null') || ')'"


class Checker:
    """One DuckDB session holding a batch of contract tables, typed, to check and to plan.

    Each staged table `typed_<name>` has the typed contract columns, their text
    (`<column>__raw`), `__id` (the row's ident for messages) and `__row` (source order).
    With a store (`existing_db`) the batch is checked as an append; see
    `offerrank.store.io` for the append rules, checked by `check_store`.
    """

    def __init__(self, existing_db: Path | None = None, in_store: set[str] | None = None):
        self.duck = duckdb.connect()
        self.db = Path(existing_db) if existing_db and Path(existing_db).exists() else None
        if self.db is None:
            in_store = set()
        elif in_store is None:
            in_store = store_tables(self.db)
        self.in_store = set(in_store)  # input tables the store holds
        self.staged: dict[str, int] = {}  # incoming tables, typed as typed_<name>
        self.stored: set[str] = set()  # tables whose overlapping stored rows are stored_<name>
        self.violations: list[Violation] = []
        self._columns: dict[str, set[str]] | None = None  # of the store's tables

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.duck.close()

    def add_arrow(self, name: str, data: pa.Table, source: str) -> bool:
        """Stage one incoming table; a missing column or no rows is a violation."""
        table = INPUTS[name]
        found = ", ".join(data.column_names) or "nothing"
        missing = [c for c in table.column_names if c not in data.column_names]
        self.violations += [
            Violation(
                name,
                c,
                "column present",
                0,
                note=(f"column missing from {source} (found: {found})"),
            )
            for c in missing
        ]
        if not missing and data.num_rows == 0:
            self.violations.append(
                Violation(
                    name,
                    "",
                    "not empty",
                    0,
                    note=(f"{source} has no rows; an empty file is a mistake (leave the file out)"),
                )
            )
        if missing or data.num_rows == 0:
            return False
        types = {f.name: f.type for f in data.schema}
        text = {
            c.name: text_expr(
                c,
                f'CAST("{c.name}" AS INTEGER)'
                if pa.types.is_boolean(types[c.name])
                else f'"{c.name}"',
            )
            for c in table.columns
        }
        self.stage(table, f"typed_{name}", text, data)
        self.staged[name] = data.num_rows
        return True

    def add_store(
        self,
        db_path: Path,
        table: Table,
        target: str | None = None,
        bound: str | None = None,
        lo: int | None = None,
        hi: int | None = None,
    ) -> int:
        """Stage a store table (all of it, or `lo <= bound <= hi`) under `target`."""
        if self._columns is None:
            self._columns = store_columns(db_path)
        data = read_store(db_path, table, bound, lo, hi, self._columns.get(table.name, set()))
        text = {
            c.name: text_expr(
                c,
                f"coalesce(CAST({c.name}__n AS VARCHAR), {c.name}__t)"
                if c.kind in ("int", "flag", "real")
                else f"{c.name}__t",
            )
            for c in table.columns
        }
        self.stage(table, target or f"typed_{table.name}", text, data, "__probe = 0")
        rows = data.num_rows - 1  # less the probe row
        if target is None:
            self.staged[table.name] = rows
        return rows

    def stage(
        self, table: Table, target: str, text: dict[str, str], data: pa.Table, where: str = "TRUE"
    ) -> None:
        """Create `target` from Arrow `data` through the given text expressions."""
        raw = ", ".join(f'{expr} AS "{c}__raw"' for c, expr in text.items())
        typed = ", ".join(f'{typed_expr(c, f"{c.name}__raw")} AS "{c.name}"' for c in table.columns)
        ident = (
            " || ', ' || ".join(
                f"'{c}=' || coalesce({c}__raw, 'null')" for c in ident_columns(table)
            )
            or "NULL"
        )
        self.duck.register("__source", data)
        try:
            self.duck.sql(
                f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT {typed}, r.*, "
                f"{ident} AS __id, row_number() OVER () AS __row "
                f"FROM (SELECT {raw} FROM __source WHERE {where}) r"
            )
        finally:
            self.duck.unregister("__source")

    def row(self, sql: str) -> tuple:
        """The one row of an aggregate query."""
        return self.duck.sql(sql).fetchall()[0]

    def check(self, typing_only: bool = False) -> list[Violation]:
        """Every violation of the staged batch: structure, rows, keys, references, store."""
        found = list(self.violations)
        for name in self.staged:
            rules = [r for r in row_rules(INPUTS[name]) if r.typing or not typing_only]
            found += self.run_rules(name, rules)
        if typing_only:
            return found
        for name in self.staged:
            found += self.key_violations(INPUTS[name])
        found += self.reference_violations()
        if self.db is not None:
            from offerrank.store.io import store_conflicts

            found += store_conflicts(self)
        return found

    def run_rules(
        self, name: str, rules: list[Rule], relation: str | None = None
    ) -> list[Violation]:
        """Count and quote the offending rows of each rule, all in one scan of the table."""
        if not rules:
            return []
        parts = []
        for i, rule in enumerate(rules):
            example = example_sql(INPUTS[name], rule.column)
            parts.append(
                f"count(*) FILTER (WHERE {rule.condition}) AS n{i}, "
                f"min({example}, {EXAMPLES}) FILTER (WHERE {rule.condition}) AS e{i}"
            )
        row = self.row(f"SELECT {', '.join(parts)} FROM {relation or 'typed_' + name}")
        return [
            Violation(name, rule.column, rule.name, int(row[2 * i]), list(row[2 * i + 1]))
            for i, rule in enumerate(rules)
            if row[2 * i]
        ]

    def key_violations(self, table: Table) -> list[Violation]:
        if not table.key:
            return []
        key = ", ".join(table.key)
        present = " AND ".join(f"{k} IS NOT NULL" for k in table.key)
        row = self.row(
            f"SELECT sum(n), min(__id, {EXAMPLES}) FROM (SELECT any_value(__id) AS __id, "
            f"count(*) AS n FROM typed_{table.name} WHERE {present} GROUP BY {key} "
            f"HAVING count(*) > 1)"
        )
        if not row[0]:
            return []
        return [Violation(table.name, key, "unique key", int(row[0]), list(row[1]))]

    def reference_violations(self) -> list[Violation]:
        """Each reference must resolve into the batch or, when appending, into the store."""
        refs = [(name, ref) for name in self.staged for ref in INPUTS[name].references]
        for target in dict.fromkeys(ref.table for _, ref in refs):
            self._key_set(target, [(name, ref) for name, ref in refs if ref.table == target])
        found = []
        for name in self.staged:
            found += self.run_rules(
                name,
                [
                    Rule(
                        ref.column,
                        f"references {ref.table}.{ref.target}",
                        f"{ref.column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                        f"__keys_{ref.table} k WHERE k.k = typed_{name}.{ref.column})",
                    )
                    for ref in INPUTS[name].references
                ],
            )
        return found

    def _key_set(self, target: str, refs: list[tuple[str, Reference]]) -> None:
        """`__keys_<target>`: the keys of `target` in the batch and, within the referenced
        range, in the store (a daily feed should not read the whole history)."""
        key = refs[0][1].target
        parts = [f"SELECT {key} AS k FROM typed_{target}"] if target in self.staged else []
        if self.db is not None and target in self.in_store:
            bounds = " UNION ALL ".join(
                f"SELECT min({ref.column}) AS lo, max({ref.column}) AS hi FROM typed_{name}"
                for name, ref in refs
            )
            lo, hi = self.row(f"SELECT min(lo), max(hi) FROM ({bounds})")
            if lo is not None:
                table = INPUTS[target]
                only = replace(
                    table,
                    columns=tuple(c for c in table.columns if c.name == key),
                    key=(key,),
                    references=(),
                    row_checks=(),
                )
                self.add_store(self.db, only, f"__stored_keys_{target}", key, lo, hi)
                parts.append(f"SELECT {key} AS k FROM __stored_keys_{target}")
        union = " UNION ALL ".join(parts) or "SELECT NULL::BIGINT AS k WHERE FALSE"
        self.duck.sql(f"CREATE OR REPLACE TEMP TABLE __keys_{target} AS {union}")
