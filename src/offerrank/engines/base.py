"""The engine interface: what a daily run asks of the machine that holds the data.

Every step of a run is written once, against `Engine`; DuckDB (embedded, the default)
and Spark (scale-out) implement it. An engine holds the contract tables and the impression
labels, and answers in Arrow: small results (a day's facts, a window's labelled
impressions, a batch's features, offer attributes) come back whole; the day's candidate
pool stays on the engine (`CandidatePool`) until it is scored there.

The SQL an engine runs is shared text in DuckDB's dialect (`features/sql`,
`ranking/sql`); Spark runs it transpiled. Callers pass the queries that belong to them
(`SqlQuery`), so an engine knows tables and SQL, never a step's rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from offerrank.features.registry import DEFAULT_FEATURES, FeatureSet


@dataclass(frozen=True)
class Window:
    """Inclusive range of shown dates."""

    first: date
    last: date

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True)
class SqlQuery:
    """One statement in DuckDB's dialect with its `$name` parameters' values."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreFacts:
    """What a run checks and counts before it starts, as of its date."""

    first_order: date | None
    active_offers: int
    eligible_customers: int


@dataclass(frozen=True)
class CandidatePool:
    """A day's candidate pairs, kept on the engine under `name` (one pool per run)."""

    name: str
    as_of: date
    pairs: int
    customers: int


@dataclass(frozen=True)
class Scored:
    """Scored pairs in (customer_id, offer_id) order: features (keys first), the model
    input and the calibrated scores."""

    features: pa.Table
    X: np.ndarray
    scores: np.ndarray


class Scorer(Protocol):
    """A model as an engine sees it: calibrated probabilities of a feature matrix."""

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...


class Engine(Protocol):
    """The operations a daily run needs, each in the engine's own way."""

    name: str

    def load(self, since: date | None = None) -> None:
        """Hold the store's contract tables (orders from `since`) and the impression labels."""

    def facts(self, as_of: date) -> StoreFacts:
        """The first order date, the offers active on `as_of` and its eligible customers."""

    def labelled_impressions(self, window: Window) -> pa.Table:
        """impression_id, customer_id, offer_id, as_of (= shown_date), label of the
        impressions shown in `window`, by impression_id."""

    def features(self, rows: pa.Table, feature_set: FeatureSet = DEFAULT_FEATURES) -> pa.Table:
        """Keys and features of (customer_id, offer_id, as_of) rows, each as of its own
        as_of, in row order (`features.registry.feature_schema`)."""

    def candidates(self, query: SqlQuery, scope: pa.Table) -> pa.Table:
        """The retrieval query's pairs for the customers of `scope` (customer_id), collected:
        for a few customers (recall, tools), never a whole day."""

    def candidate_pool(self, query: SqlQuery) -> CandidatePool:
        """The retrieval query's pairs for every customer, kept on the engine."""

    def score(self, pool: CandidatePool, model: Scorer) -> Scored:
        """Features as of the pool's date and calibrated scores of every pair of `pool`."""

    def offer_facts(self, offer_ids: np.ndarray) -> pa.Table:
        """offer_id, category and unit margin at the offer price of each id, in input order
        (NULL for an id without offer or product)."""

    def active_offers(self, as_of: date) -> np.ndarray:
        """The ids of the offers active on `as_of`."""

    def close(self) -> None:
        """Release what the engine holds for this run."""
