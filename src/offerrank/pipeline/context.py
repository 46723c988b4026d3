"""What the steps of one daily run share: connections, settings, and intermediate results."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from offerrank.config import Settings
from offerrank.store.db import transaction
from offerrank.training.registry import ActiveModel


@dataclass
class RunContext:
    settings: Settings
    run_date: date
    store: sqlite3.Connection
    engine: duckdb.DuckDBPyConnection | None = None
    model: ActiveModel | None = None
    active: ActiveModel | None = None  # the registry's active model before this run
    retrain_reason: str | None = None
    retrained: bool = False
    active_offers: int = 0
    candidates: pa.Table | None = None
    scoring_features: pa.Table | None = None
    scoring_matrix: np.ndarray | None = None  # the model input of scoring_features
    scores: np.ndarray | None = None
    ranks: np.ndarray | None = None  # each scored pair's rank within its customer
    recommendations: pa.Table | None = None
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
        con.executemany(
            "INSERT OR REPLACE INTO run_metrics (run_date, metric, value) VALUES (?, ?, ?)",
            [(self.day, k, v) for k, v in self.pending.items()],
        )
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
