"""Reporting contract violations: one `Violation` per broken rule, one error for them all.

Every refusal (an import, an export, a daily run's contract check) words its message
the same way: the tables, then one line per table.column, rule, row count and a few
offending keys, so an operator can find the rows with the sqlite3 shell.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from offerrank.errors import ContractViolation
from offerrank.store.contract import INPUTS

EXAMPLES = 3  # offending keys quoted per violation


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


def unknown_table(name: str, source: str) -> Violation:
    valid = ", ".join(INPUTS)
    return Violation(
        name, "", "known table", 0, note=f"unknown table name in {source} (valid names: {valid})"
    )


def missing_from_store(table: str, column: str = "") -> Violation:
    """A contract table or column the store lacks."""
    what = "column" if column else "table"
    return Violation(table, column, f"{what} present", 0, note=f"{what} missing from the store")
