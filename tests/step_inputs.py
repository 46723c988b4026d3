"""Typed inputs for running one pipeline step alone: a run on a migrated store and a
model small enough to compute its outputs by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from contract_tables import DAY, contract_tables
from offerrank.config import Settings
from offerrank.engines.duckdb.engine import DuckDBEngine
from offerrank.pipeline.context import Run
from offerrank.pipeline.steps.train import Trained
from offerrank.store.db import connect
from offerrank.store.results.migrations import migrate
from offerrank.training.models import LogisticModel
from offerrank.training.registry import ActiveModel

# The model's two features: score = 0.1 + discount_depth - frequency / 4 (in log-odds)
COLUMNS = ("discount_depth", "frequency")


def run_on(db: Path, day: date = DAY, **settings: Any) -> Run:
    """A run of `day` on the store at `db` (created and migrated), holding the hand-made
    contract tables on a DuckDB engine."""
    store = connect(db, create=True)
    migrate(store)
    s = Settings(db_path=db, **settings)
    return Run(s, day, store, DuckDBEngine.from_tables(s, contract_tables()))


def trained(version: str = "v1") -> Trained:
    """A logistic model of `COLUMNS` (standardised by scales 1 and 2, coefficients 1 and
    -0.5, intercept 0.1), as the train step hands it on."""
    model = LogisticModel(
        mean=np.zeros(2), scale=np.array([1.0, 2.0]), coef=np.array([1.0, -0.5]), intercept=0.1
    )
    return Trained(ActiveModel(version, model, {"feature_columns": list(COLUMNS)}), True)
