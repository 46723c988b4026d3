"""Evidence for the reliability suite: what bad input was refused, what faults were survived.

Tests that feed hostile input or inject a fault record it here (`reliability` fixture,
or `LEDGER` for a one-line call in an existing test): a bad input refused cleanly (one
line, the documented exit code, the store as it was), a hostile-looking input accepted
by a documented rule (a compressed CSV, a time zone), a fault and whether it was
survived, a traceback (never expected: the test fails too); tests that compare a store
before and after record the rows that differ (`store_rows`, `rows_differing`). At the
end of the session one line sums it up, e.g.

    reliability: 180 hostile cases tried: 120 refused cleanly, 50 of 50 faults survived,
    10 accepted by a documented rule, 0 rows lost, 0 tracebacks
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
    accepted: Counter[str] = field(default_factory=Counter)
    tracebacks: Counter[str] = field(default_factory=Counter)
    survived: int = 0
    lost: int = 0
    used: bool = False

    def bad_input(self, kind: str) -> None:
        """A bad input (file, value, store row, command line) that was refused cleanly."""
        self.used = True
        self.bad_inputs[kind] += 1

    def accepted_input(self, kind: str) -> None:
        """A hostile-looking input read as a documented rule says (not refused)."""
        self.used = True
        self.accepted[kind] += 1

    def fault(self, kind: str, survived: bool = True) -> None:
        """A fault injected (exception, kill -9, busy store, tampered file) and its outcome."""
        self.used = True
        self.faults[kind] += 1
        self.survived += int(survived)

    def traceback(self, kind: str) -> None:
        """A case that ended in a Python traceback instead of one line and an exit code."""
        self.used = True
        self.tracebacks[kind] += 1

    def rows_lost(self, n: int) -> None:
        """Rows that differ between a store's state before a fault and after it."""
        self.used = True
        self.lost += int(n)

    def line(self) -> str:
        bad, faults = sum(self.bad_inputs.values()), sum(self.faults.values())
        accepted, tracebacks = sum(self.accepted.values()), sum(self.tracebacks.values())
        tried = bad + faults + accepted + tracebacks
        return (
            f"reliability: {tried} hostile cases tried: {bad} refused cleanly, {self.survived}"
            f" of {faults} faults survived, {accepted} accepted by a documented rule,"
            f" {self.lost} rows lost, {tracebacks} tracebacks"
        )


LEDGER = Ledger()


@pytest.fixture
def reliability() -> Ledger:
    """The session's ledger: `bad_input(kind)`, `fault(kind, survived=True)`, `rows_lost(n)`."""
    return LEDGER


# Bookkeeping, not data: the run log, and what the contract check records (rebuilt at will).
BOOKKEEPING = frozenset(
    {"pipeline_runs", "contract_watermarks", "contract_watermark_log", "store_identity",
     "schema_migrations"}
)  # fmt: skip


def store_rows(db: Path | str, skip: frozenset[str] = BOOKKEEPING) -> Counter:
    """Every row of every table of a store (its bookkeeping excepted), as a multiset."""
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
