"""Reference checks as SQL: every referencing value of a staged table must name a key.

The keys a reference may resolve to are staged by the checker
(`Checker.reference_violations`): those of the batch and, when a store is attached,
the store's keys within the referenced range only, so a daily feed (or the new rows of
a daily contract check) never reads the whole history.
"""

from __future__ import annotations

from dataclasses import replace

from offerrank.store.check.rules import Rule
from offerrank.store.contract import Reference, Table


def reference_rule(name: str, ref: Reference, relation: str | None = None) -> Rule:
    """Offending rows of `typed_<name>` (or `relation`): a non-null reference with no key
    in `__keys_<table>`."""
    return Rule(
        ref.column,
        f"references {ref.table}.{ref.target}",
        f"{ref.column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
        f"__keys_{ref.table} k WHERE k.k = {relation or 'typed_' + name}.{ref.column})",
    )


def only_columns(table: Table, columns: tuple[str, ...], key: tuple[str, ...] = ()) -> Table:
    """`table` reduced to some columns, without rules across them (to read less)."""
    return replace(
        table,
        columns=tuple(c for c in table.columns if c.name in columns),
        key=key,
        references=(),
        row_checks=(),
    )
