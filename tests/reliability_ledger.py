"""Evidence for the reliability suite: what bad input was refused, what faults were survived.

Tests that feed bad input or inject a fault record it here (`reliability` fixture, or
`LEDGER` for a one-line call in an existing test); tests that compare a store before and
after record the rows that differ (`store_rows`, `rows_differing`). At the end of the
session one line sums it up, e.g.

    reliability: 41 bad inputs refused, 12 faults injected and survived, 0 rows lost
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class Ledger:
    bad_inputs: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    survived: int = 0
    lost: int = 0
    used: bool = False

    def bad_input(self, kind: str) -> None:
        """A bad input (file, value, store row, command line) that was refused."""
        self.used = True
        self.bad_inputs[kind] += 1

    def fault(self, kind: str, survived: bool = True) -> None:
        """A fault injected (exception, kill -9, busy store, tampered file) and its outcome."""
        self.used = True
        self.faults[kind] += 1
        self.survived += int(survived)

    def rows_lost(self, n: int) -> None:
        """Rows that differ between a store's state before a fault and after it."""
        self.used = True
        self.lost += int(n)

    def line(self) -> str:
        bad, faults = sum(self.bad_inputs.values()), sum(self.faults.values())
        outcome = (
            "injected and survived"
            if self.survived == faults
            else f"injected, {self.survived} survived"
        )
        return (
            f"reliability: {bad} bad input{'s' * (bad != 1)} refused, {faults} "
            f"fault{'s' * (faults != 1)} {outcome}, {self.lost} row{'s' * (self.lost != 1)} lost"
        )


LEDGER = Ledger()


@pytest.fixture
def reliability() -> Ledger:
    """The session's ledger: `bad_input(kind)`, `fault(kind, survived=True)`, `rows_lost(n)`."""
    return LEDGER


def store_rows(db: Path | str, skip: frozenset[str] = frozenset({"pipeline_runs"})) -> Counter:
    """Every row of every table of a store (the run log excepted), as a multiset."""
    rows: Counter = Counter()
    with sqlite3.connect(db) as con:
        names = [
            n
            for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if n not in skip
        ]
        for name in names:
            rows.update((name, *r) for r in con.execute(f"SELECT * FROM {name}"))
    return rows


def rows_differing(before: Counter, after: Counter) -> int:
    """Rows present on one side only (a changed row counts twice: old gone, new there)."""
    return sum(((before - after) + (after - before)).values())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LEDGER.used:
        terminalreporter.write_line(LEDGER.line())
