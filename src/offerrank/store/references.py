"""Reference checks: every referencing value of a staged table must name an existing key.

A key resolves into the staged batch or, when a store is attached, into the store;
only the store's keys within the referenced range are read, so a daily feed (or the
new rows of a daily contract check) never reads the whole history.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from offerrank.store.contract import INPUTS, Reference, Table
from offerrank.store.rules import Rule

if TYPE_CHECKING:
    from offerrank.store.checker import Checker
    from offerrank.store.violations import Violation


def reference_rule(name: str, ref: Reference, relation: str | None = None) -> Rule:
    """Offending rows of `typed_<name>` (or `relation`): a non-null reference with no key
    in `__keys_<table>`."""
    return Rule(
        ref.column,
        f"references {ref.table}.{ref.target}",
        f"{ref.column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
        f"__keys_{ref.table} k WHERE k.k = {relation or 'typed_' + name}.{ref.column})",
    )


def reference_violations(checker: Checker) -> list[Violation]:
    """Each reference of each staged table must resolve into the batch or the store."""
    refs = [(name, ref) for name in checker.staged for ref in INPUTS[name].references]
    for target in dict.fromkeys(ref.table for _, ref in refs):
        key_set(checker, target, [(name, ref) for name, ref in refs if ref.table == target])
    found = []
    for name in checker.staged:
        found += checker.run_rules(
            name, [reference_rule(name, ref) for ref in INPUTS[name].references]
        )
    return found


def only_columns(table: Table, columns: tuple[str, ...], key: tuple[str, ...] = ()) -> Table:
    """`table` reduced to some columns, without rules across them (to read less)."""
    return replace(
        table,
        columns=tuple(c for c in table.columns if c.name in columns),
        key=key,
        references=(),
        row_checks=(),
    )


def key_set(checker: Checker, target: str, refs: list[tuple[str, Reference]]) -> None:
    """`__keys_<target>`: the keys of `target` in the batch and, within the referenced
    range, in the store (a daily feed should not read the whole history)."""
    key = refs[0][1].target
    parts = [f"SELECT {key} AS k FROM typed_{target}"] if target in checker.staged else []
    if checker.db is not None and target in checker.in_store:
        bounds = " UNION ALL ".join(
            f"SELECT min({ref.column}) AS lo, max({ref.column}) AS hi FROM typed_{name}"
            for name, ref in refs
        )
        lo, hi = checker.row(f"SELECT min(lo), max(hi) FROM ({bounds})")
        if lo is not None:
            only = only_columns(INPUTS[target], (key,), (key,))
            checker.add_store(checker.db, only, f"__stored_keys_{target}", key, lo, hi)
            parts.append(f"SELECT {key} AS k FROM __stored_keys_{target}")
    union = " UNION ALL ".join(parts) or "SELECT NULL::BIGINT AS k WHERE FALSE"
    checker.duck.sql(f"CREATE OR REPLACE TEMP TABLE __keys_{target} AS {union}")
