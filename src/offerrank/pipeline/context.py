"""What every step of one daily run shares: its date, settings, store and engine, and the
metrics and notes the steps collect. What a step computes for the next is not here: it
is the step's return value (`pipeline.steps`), handed on by the run in plain code."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from offerrank.config import Settings
from offerrank.engines.base import Engine
from offerrank.store.db import transaction
from offerrank.store.results import outputs


@dataclass
class Run:
    settings: Settings
    run_date: date
    store: sqlite3.Connection
    engine: Engine
    metrics: dict[str, float] = field(default_factory=dict)
    pending: dict[str, float] = field(default_factory=dict)  # staged, not yet written
    notes: list[str] = field(default_factory=list)

    @property
    def day(self) -> str:
        return self.run_date.isoformat()

    def put_metrics(self, values: dict[str, Any]) -> None:
        """Stage metrics (None values are left out); they are written with the step's outputs.

        Nothing reaches `run_metrics` until the step's output transaction (`outputs`) or
        the step's successful end: a step that fails leaves the metrics as they were.
        """
        staged = {k: float(v) for k, v in values.items() if v is not None}
        self.pending.update(staged)
        self.metrics.update(staged)

    def flush_metrics(self, con: sqlite3.Connection) -> None:
        """Write the staged metrics; the caller owns the transaction."""
        outputs.put_metrics(con, self.day, self.pending)
        self.pending.clear()

    def discard_metrics(self) -> None:
        for name in self.pending:
            self.metrics.pop(name, None)
        self.pending.clear()

    @contextmanager
    def outputs(self) -> Iterator[sqlite3.Connection]:
        """One transaction for a step's output swap and the metrics staged so far."""
        with transaction(self.store):
            yield self.store
            self.flush_metrics(self.store)
