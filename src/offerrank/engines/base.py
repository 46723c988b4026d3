"""The engine interface: what a daily run asks of the machine that holds the data.

Every step of a run is written once, against `Engine`; DuckDB (embedded, the default)
and Spark (scale-out) implement it. An engine holds the contract tables and the impression
labels, and answers in Arrow: small results (a day's facts, a window's labelled
impressions, a batch's features, offer attributes) come back whole; the day's pool
stays on the engine: `pool_partitions` hands each partition of it to the caller's
function where the data is, and only what that returns comes back.

The SQL an engine runs is shared text in DuckDB's dialect (`features/sql`,
`ranking/sql`); Spark runs it transpiled. Callers pass the queries that belong to them
(`SqlQuery`), so an engine knows tables and SQL, never a step's rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from offerrank.features.registry import DEFAULT_FEATURES, FeatureSet
from offerrank.hashing import id_hash

# Customers are assigned to partitions in blocks of this many consecutive ids (a block is
# never split: serving draws its Plackett-Luce propensities block by block).
PARTITION_BLOCK = 64


def partition_of(customer_ids: np.ndarray, partitions: int) -> np.ndarray:
    """The partition (0 .. partitions - 1) of each customer: a hash of its id block."""
    block = np.asarray(customer_ids, dtype=np.int64) // PARTITION_BLOCK
    return (id_hash(block, 0) % np.uint64(max(partitions, 1))).astype(np.int64)


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
class FirstStage:
    """A linear first stage, `bias + sum(weights[j] * feature_j)` over the contract's 22
    features (`CONTRACT_FEATURES`): cheap enough to score on every eligible pair of a day."""

    weights: tuple[float, ...]
    bias: float


@dataclass(frozen=True)
class Retrieval:
    """How a day's candidate pool is retrieved: the eligible pairs (`eligible`, reading
    `candidate_scope`), scored by the first stage, the best `per_customer` of each
    customer kept (ties to the lower offer id), with the features `feature_set` (the
    serving model's own)."""

    eligible: SqlQuery
    first_stage: FirstStage
    per_customer: int
    feature_set: FeatureSet = DEFAULT_FEATURES


class Scorer(Protocol):
    """A model as an engine sees it: calibrated probabilities of a feature matrix."""

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...


class Engine(Protocol):
    """The operations a daily run needs, each in the engine's own way."""

    name: str
    # As-of days featurised in one `features` call when a batch spans many (training):
    # an engine stages the lines of that many days plus the lookback at once.
    feature_chunk_days: int

    def load(self, since: date | None = None) -> None:
        """Hold the store's contract tables (orders from `since`) and the impression labels."""

    def facts(self, as_of: date) -> StoreFacts:
        """The first order date, the offers active on `as_of` and its eligible customers."""

    def labelled_impressions(self, window: Window) -> pa.Table:
        """impression_id, customer_id, offer_id, as_of (= shown_date), label of the
        impressions shown in `window`, by impression_id."""

    def unit_costs(self) -> dict[str, float]:
        """products, with_cost (unit cost above 0), low_ratio, high_ratio and spread of
        unit cost / list price: where the margin figures' costs come from."""

    def positives_by_day(self, window: Window) -> pa.Table:
        """shown_date and positives (impressions labelled 1) of each day of `window`."""

    def features(self, rows: pa.Table, feature_set: FeatureSet = DEFAULT_FEATURES) -> pa.Table:
        """Keys and features of (customer_id, offer_id, as_of) rows, each as of its own
        as_of, in row order (`features.registry.feature_schema`)."""

    def scoped_pairs(self, query: SqlQuery, scope: pa.Table) -> pa.Table:
        """A pair query's rows for the customers of `scope` (customer_id), collected: for a
                few customers (recall), or every customer of a small store (the `features` command,
        simulations): the rows come back whole, so not for a whole day of a large store."""

    def retrieval_ranks(
        self, pairs: pa.Table, eligible_sql: str, first_stage: FirstStage
    ) -> np.ndarray:
        """For each (customer_id, offer_id, as_of) row, the pair's rank by the first stage
        among its customer's eligible pairs of that day (`eligible_sql`, its `$as_of` bound to
        the row's date); 0 when the pair is not eligible that day."""

    def pool_partitions(
        self,
        retrieval: Retrieval,
        partitions: int,
        process: Callable[[pa.Table], pa.Table],
    ) -> Iterator[pa.Table]:
        """The retrieved pool of the day, customer partition by customer partition: for each,
        the kept pairs' keys, features and `first_stage` score go through `process` where
        the data lives, and its result comes back. Every customer is in one partition
        (`partition_of`), so `process` sees all of a customer's pairs at once."""

    def offer_facts(self, offer_ids: np.ndarray) -> pa.Table:
        """offer_id, category and unit margin at the offer price of each id, in input order
        (NULL for an id without offer or product)."""

    def inputs_digest(self, first_order: date, last: date, last_label: date) -> str:
        """A fingerprint of the loaded rows an evaluation of the impressions shown up to
        `last` reads: orders (and their lines) from `first_order` to before `last`,
        impressions to `last`, redemptions to `last_label`, and every product, offer and
        customer. Equal fingerprints mean equal inputs (a sum of row hashes per table)."""

    def active_offers(self, as_of: date) -> np.ndarray:
        """The ids of the offers active on `as_of`."""

    def close(self) -> None:
        """Release what the engine holds for this run."""
