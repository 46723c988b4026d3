"""What the steps of one daily run share: connections, settings, and intermediate results."""

from __future__ import annotations

import sqlite3
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
    notes: list[str] = field(default_factory=list)

    @property
    def day(self) -> str:
        return self.run_date.isoformat()

    def put_metrics(self, values: dict[str, Any]) -> None:
        """Upsert metrics for this date in one transaction (None values are left out)."""
        rows = [(self.day, k, float(v)) for k, v in values.items() if v is not None]
        with transaction(self.store):
            self.store.executemany(
                "INSERT OR REPLACE INTO run_metrics (run_date, metric, value) VALUES (?, ?, ?)",
                rows,
            )
        self.metrics.update({k: float(v) for k, v in values.items() if v is not None})
