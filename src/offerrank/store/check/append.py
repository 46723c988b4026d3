"""Appending a checked batch to the store without duplicating a row.

The rules of a daily feed (see `offerrank.store.ingest.io`): a keyed row whose key the
store holds must agree with the stored row and is then skipped; items of an order the
store holds items of must be exactly the stored items. `store_conflicts` stages the
stored rows that overlap the batch and reports every disagreement; `new_rows` is what is
left to insert.
"""

from __future__ import annotations

import pyarrow as pa

from offerrank.store.check.checker import Checker
from offerrank.store.check.violations import EXAMPLES, Violation
from offerrank.store.contract import INPUTS, Table


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
