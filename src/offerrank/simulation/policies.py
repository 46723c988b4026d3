"""The day's candidate pool and the policies that pick each contacted customer's top K.

Every policy chooses from the same kind of pool: every eligible pair of the date (the
rules of `ranking/sql/eligible_pairs.sql`, as `popular_candidates.sql` applies them),
restricted to the customers contacted that day and without the pairs already shown
while the offer runs (an offer is shown to a customer once, as the world's own logging
policy does). Policies differ
only in the key they sort the pool by:

- `model`: the calibrated score of the normal daily run (its recommendations), or the
  expected margin when `rank_by = "expected_margin"`; served with `settings.serving`;
- `random`: a uniform random key (seeded);
- `popularity`: the offer's popularity rank in the customer's segment (distinct buyers);
- `oracle`: the world's true probability (or true expected margin).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from offerrank.config import Settings
from offerrank.engines.base import SqlQuery
from offerrank.engines.registry import open_engine
from offerrank.errors import OfferrankError
from offerrank.ranking.margin import ranking_key
from offerrank.ranking.retrieval import popular_candidates_sql
from offerrank.ranking.serving import Served, choose_lists
from offerrank.store.db import query_arrow
from offerrank.world.truth import true_probability

POLICIES = ("model", "random", "popularity", "oracle")
STREAM_CONTACT, STREAM_RANDOM, STREAM_SERVE = 11, 12, 13


def day_rng(seed: int, day: date, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, day.toordinal(), stream])


@dataclass
class Pool:
    """Candidate pairs of one day for the contacted customers, with what policies need."""

    customer_id: np.ndarray
    offer_id: np.ndarray
    score: np.ndarray  # calibrated model score (NaN when the model did not run)
    pop_rank: np.ndarray  # popularity rank in the customer's segment (1 = most popular)
    unit_margin: np.ndarray  # list_price * (1 - discount_pct) - unit_cost

    def __len__(self) -> int:
        return int(self.customer_id.size)

    def where(self, keep: np.ndarray) -> Pool:
        return Pool(*(a[keep] for a in vars(self).values()))


def contacted(seed: int, day: date, customers: int, share: float) -> np.ndarray:
    """Customer ids contacted on `day`: the same draw for every policy of a seed."""
    return np.flatnonzero(day_rng(seed, day, STREAM_CONTACT).random(customers) < share) + 1


def _pair_keys(cust: np.ndarray, offer: np.ndarray) -> np.ndarray:
    return (cust.astype(np.int64) << 32) | offer.astype(np.int64)


def _columns(con: sqlite3.Connection, sql: str, params: tuple) -> list[np.ndarray]:
    rows = con.execute(sql, params).fetchall()
    return [np.array(c) for c in zip(*rows, strict=True)] if rows else []


def shown_pairs(db_path: Path, day: date) -> np.ndarray:
    """Pair keys shown before `day` whose offer still runs on `day`."""
    with sqlite3.connect(db_path) as con:
        cols = _columns(
            con,
            "SELECT DISTINCT i.customer_id, i.offer_id FROM impressions i"
            " JOIN offers o ON o.offer_id = i.offer_id"
            " WHERE o.end_date >= ? AND i.shown_date < ?",
            (day.isoformat(), day.isoformat()),
        )
    return np.unique(_pair_keys(*cols)) if cols else np.zeros(0, dtype=np.int64)


def offer_margins(db_path: Path, offer_ids: np.ndarray) -> np.ndarray:
    """Unit margin at the offer price per offer id (input order), read from the store."""
    with sqlite3.connect(db_path) as con:
        cols = _columns(
            con,
            "SELECT o.offer_id, p.list_price * (1 - o.discount_pct) - p.unit_cost"
            " FROM offers o JOIN products p ON p.product_id = o.product_id ORDER BY 1",
            (),
        )
    ids, margin = cols
    pos = np.searchsorted(ids, offer_ids)
    if offer_ids.size and (pos.max() >= ids.size or (ids[pos] != offer_ids).any()):
        raise OfferrankError("pool references offers missing from the store")
    return margin.astype(np.float64)[pos]


def candidate_table(db_path: Path, day: date, settings: Settings) -> pa.Table:
    """Every eligible pair of `day` with its segment popularity rank: what the policies that
    need no model choose from."""
    engine = open_engine(settings.model_copy(update={"db_path": db_path, "history_cache": False}))
    try:
        engine.load(since=day - timedelta(days=settings.lookback_days))
        everyone = query_arrow(db_path, "SELECT customer_id FROM customers")
        query = SqlQuery(
            popular_candidates_sql(),
            {"as_of": day, "window_start": day - timedelta(days=settings.lookback_days)},
        )
        return engine.scoped_pairs(query, everyone)
    finally:
        engine.close()


def build_pool(db_path: Path, day: date, candidates: pa.Table, customers: np.ndarray) -> Pool:
    """Restrict candidates to contacted customers and unseen pairs; attach margins.

    `candidates` has customer_id and offer_id, and optionally pop_rank and score (the
    model's calibrated probability; the daily run's recommendations carry it).
    """
    names = set(candidates.column_names)
    cust = candidates.column("customer_id").to_numpy().astype(np.int64)
    offer = candidates.column("offer_id").to_numpy().astype(np.int64)

    def optional(name: str, default: float) -> np.ndarray:
        if name not in names:
            return np.full(cust.size, default)
        values = candidates.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        return np.where(np.isnan(values), default, values)

    keep = np.isin(cust, customers) & ~np.isin(_pair_keys(cust, offer), shown_pairs(db_path, day))
    pool = Pool(
        cust, offer, optional("score", np.nan), optional("pop_rank", np.inf), np.zeros(cust.size)
    ).where(keep)
    pool.unit_margin = offer_margins(db_path, pool.offer_id)
    return pool


def policy_key(
    policy: str, pool: Pool, db_path: Path, day: date, seed: int, rank_by: str
) -> np.ndarray:
    """The key a policy sorts the pool by (higher = shown first)."""
    if policy == "model":
        return ranking_key(pool.score, pool.unit_margin, rank_by)
    if policy == "oracle":
        p_true = true_probability(db_path, pool.customer_id, pool.offer_id, day)
        return ranking_key(p_true, pool.unit_margin, rank_by)
    if policy == "popularity":
        return -pool.pop_rank
    if policy == "random":
        return day_rng(seed, day, STREAM_RANDOM).random(len(pool))
    raise OfferrankError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")


def choose(
    policy: str,
    pool: Pool,
    key: np.ndarray,
    k: int,
    settings: Settings,
    seed: int,
    day: date,
) -> Served:
    """The served lists: greedy for every policy but `model`, which serves as configured."""
    mode = settings.serving if policy == "model" else "greedy"
    return choose_lists(
        pool.customer_id,
        pool.offer_id,
        key,
        k,
        mode=mode,
        epsilon=settings.exploration_epsilon,
        temperature=settings.exploration_temperature,
        draws=settings.propensity_draws,
        rng=day_rng(seed * 1_000_003 + settings.serving_seed, day, STREAM_SERVE),
    )
