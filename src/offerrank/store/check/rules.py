"""The contract's rules as SQL: typing text per column kind, and the rules one row can break.

Each contract column arrives as text and is typed here with a pattern and TRY_CAST, so a
value of the wrong type is reported with the value itself and never coerced: "abc" in a
quantity or "2024-13-45" in a date is a violation, not a NULL. Empty text counts as
missing (a CSV file cannot tell the two apart).
"""

from __future__ import annotations

from dataclasses import dataclass

from offerrank.store.contract import Column, Table

_INT = r"[+-]?[0-9]+(\.0*)?"
_REAL = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T].+)?"
TYPE_RULES = {"int": "integer", "real": "number", "date": "date YYYY-MM-DD", "flag": "0 or 1"}


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
