"""The contract checker: one DuckDB session holding a batch of tables, typed, to check.

Rows are staged as typed tables (`rules.typed_expr`), then each rule is counted with a
few offending keys in one scan per table; unique keys and references
(`offerrank.store.check.references`) follow. With a store (`existing_db`) the batch is
checked as an append (`offerrank.store.check.append`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from offerrank.store.check.introspect import read_store, store_columns, store_tables
from offerrank.store.check.references import only_columns, reference_rule
from offerrank.store.check.rules import (
    TYPE_RULES,
    Rule,
    example_sql,
    ident_columns,
    row_rules,
    text_expr,
    typed_expr,
)
from offerrank.store.check.violations import EXAMPLES, Violation
from offerrank.store.contract import INPUTS, Reference, Table


class Checker:
    """One DuckDB session holding a batch of contract tables, typed, to check and to plan.

    Each staged table `typed_<name>` has the typed contract columns, their text
    (`<column>__raw`), `__id` (the row's ident for messages) and `__row` (source order).
    With a store (`existing_db`) references may resolve into it, and the batch can be
    checked as an append (`offerrank.store.check.append`).
    """

    def __init__(self, existing_db: Path | None = None, in_store: set[str] | None = None):
        self.duck = duckdb.connect()
        # A timestamp with a time zone becomes text (and its day) in UTC, not in the
        # machine's zone, so the same file imports the same everywhere.
        self.duck.execute("SET TimeZone = 'UTC'")
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
                name, c, "column present", 0, note=f"column missing from {source} (found: {found})"
            )
            for c in missing
        ]
        if not missing and data.num_rows == 0:
            note = f"{source} has no rows; an empty file is a mistake (leave the file out)"
            self.violations.append(Violation(name, "", "not empty", 0, note=note))
        types = {f.name: f.type for f in data.schema}
        unclear = [] if missing else ambiguous_types(table, types, source)
        self.violations += unclear
        if missing or unclear or data.num_rows == 0:
            return False
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
        """Every violation of the staged batch: structure, rows, keys, references.

        The append rules (agreement with the rows the store holds) are
        `offerrank.store.check.append.store_conflicts`, checked by the caller that
        appends.
        """
        found = list(self.violations)
        for name in self.staged:
            rules = [r for r in row_rules(INPUTS[name]) if r.typing or not typing_only]
            found += self.run_rules(name, rules)
        if typing_only:
            return found
        for name in self.staged:
            found += self.key_violations(INPUTS[name])
        found += self.reference_violations()
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

    def key_violations(self, table: Table, relation: str | None = None) -> list[Violation]:
        """Keys that occur more than once in the staged table (or `relation`, same columns)."""
        if not table.key:
            return []
        key = ", ".join(table.key)
        present = " AND ".join(f"{k} IS NOT NULL" for k in table.key)
        row = self.row(
            f"SELECT sum(n), min(__id, {EXAMPLES}) FROM (SELECT any_value(__id) AS __id, "
            f"count(*) AS n FROM {relation or 'typed_' + table.name} WHERE {present} "
            f"GROUP BY {key} HAVING count(*) > 1)"
        )
        if not row[0]:
            return []
        return [Violation(table.name, key, "unique key", int(row[0]), list(row[1]))]

    def reference_violations(self) -> list[Violation]:
        """Each reference of each staged table must resolve into the batch or the store."""
        refs = [(name, ref) for name in self.staged for ref in INPUTS[name].references]
        for target in dict.fromkeys(ref.table for _, ref in refs):
            self.key_set(target, [(name, ref) for name, ref in refs if ref.table == target])
        found = []
        for name in self.staged:
            found += self.run_rules(
                name, [reference_rule(name, ref) for ref in INPUTS[name].references]
            )
        return found

    def key_set(self, target: str, refs: list[tuple[str, Reference]]) -> None:
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
                only = only_columns(INPUTS[target], (key,), (key,))
                self.add_store(self.db, only, f"__stored_keys_{target}", key, lo, hi)
                parts.append(f"SELECT {key} AS k FROM __stored_keys_{target}")
        union = " UNION ALL ".join(parts) or "SELECT NULL::BIGINT AS k WHERE FALSE"
        self.duck.sql(f"CREATE OR REPLACE TEMP TABLE __keys_{target} AS {union}")


def ambiguous_types(table: Table, types: dict[str, pa.DataType], source: str) -> list[Violation]:
    """Typed columns (Parquet, Arrow) whose values have no single reading as the contract's
    kind: bytes (is b"12" the number 12 or text?), nested values, and booleans anywhere
    but a 0/1 flag (True is not an id). Text and numbers are typed by the rules."""
    found = []
    for c in table.columns:
        t = types[c.name]
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
            what = f"holds bytes ({t}); write it as a {'string' if c.kind == 'text' else c.kind}"
        elif pa.types.is_nested(t):
            what = f"holds nested values ({t}); write one {c.kind} per row"
        elif pa.types.is_boolean(t) and c.kind != "flag":
            what = f"holds booleans; the contract wants {TYPE_RULES.get(c.kind, c.kind)} here"
        else:
            continue
        found.append(Violation(table.name, c.name, "unambiguous type", 0, note=f"{source}: {what}"))
    return found
