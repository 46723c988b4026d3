"""Serving: choose each customer's served top K from the ranking key, and say how likely.

Greedy serving always shows the K best pairs, so a log of it only ever holds those
pairs and cannot tell what any other ranking would have earned. Exploring serving
samples the list instead and records, for every served pair, its **inclusion
propensity**: the probability, under the serving policy, that the pair is *somewhere*
in the customer's served list (not at a given position). Off-policy estimators
(`offerrank.simulation.ope`) weigh each logged pair by target / logging inclusion
probability, which is consistent because a redemption in this system depends on the
pair being shown, not on its slot.

- `greedy`: the top K by key; inclusion 1 for them, 0 for the rest.
- `epsilon`: per customer, with probability epsilon a uniformly random K-subset of the
  pool, else the greedy list; inclusion = (1 - eps) * [in greedy top K] + eps * K / n.
- `plackett_luce`: sample K without replacement with weights key ** (1 / temperature)
  (Gumbel-top-k: add Gumbel noise to the log-weights and keep the K largest). The
  inclusion probability of a Plackett-Luce top K has no closed form, so it is estimated
  by Monte Carlo with a fixed seed (`draws` samples, standard error about
  sqrt(p (1 - p) / draws)); the served pair's own draw is counted, so it is never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from offerrank.config import Settings
from offerrank.engines.base import PARTITION_BLOCK
from offerrank.errors import OfferrankError
from offerrank.hashing import day_seed, id_hash, pair_hash, unit
from offerrank.ranking.rank import rank_within_customer

SERVING_MODES = ("greedy", "epsilon", "plackett_luce")
CHUNK_CELLS = 4_000_000  # padded pool cells x draws per Monte Carlo chunk (~32 MB)


@dataclass
class Served:
    """Per input pair: its served position (0 = not served) and inclusion propensity."""

    position: np.ndarray
    inclusion: np.ndarray

    @property
    def rows(self) -> np.ndarray:
        """Indices of the served pairs."""
        return np.flatnonzero(self.position > 0)


def _groups(customer_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: its customer's code and its column in a padded customer x pool matrix."""
    _, codes, sizes = np.unique(customer_ids, return_inverse=True, return_counts=True)
    order = np.argsort(codes, kind="stable")
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    col = np.empty(codes.size, dtype=np.int64)
    col[order] = np.arange(codes.size) - np.repeat(starts, sizes)
    return codes, col, sizes


def pl_logits(key: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Log-weights of Plackett-Luce sampling: weight = key ** (1 / temperature).

    Keys at or below zero (an expected loss) get a weight a billion times below the
    largest key: almost never sampled, but never impossible, so every pair keeps support.
    """
    key = np.asarray(key, dtype=np.float64)
    top = float(np.max(np.abs(key))) if key.size else 1.0
    floor = max(top, 1e-300) * 1e-9
    return np.log(np.maximum(key, floor)) / temperature


def gumbel_top_k(
    customer_ids: np.ndarray,
    offer_ids: np.ndarray,
    logits: np.ndarray,
    k: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """One Plackett-Luce top K per customer: served position 1..k, 0 when not served."""
    noisy = logits + rng.gumbel(size=logits.size)
    rank = rank_within_customer(customer_ids, offer_ids, noisy)
    return np.where(rank <= k, rank, 0)


def pl_inclusion(
    customer_ids: np.ndarray, logits: np.ndarray, k: int, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Monte Carlo inclusion probability of each pair in its customer's Plackett-Luce top K."""
    codes, col, sizes = _groups(customer_ids)
    if codes.size == 0:
        return np.zeros(0)
    width = int(sizes.max())
    if width <= k:
        return np.ones(codes.size)
    padded = np.full((sizes.size, width), -np.inf)
    padded[codes, col] = logits
    counts = np.zeros(codes.size)
    chunk = max(1, min(draws, CHUNK_CELLS // padded.size))
    done = 0
    while done < draws:  # a loop over chunks of draws, each fully vectorised
        m = min(chunk, draws - done)
        noisy = padded[:, :, None] + rng.gumbel(size=(*padded.shape, m))
        kth = -np.partition(-noisy, k - 1, axis=1)[:, k - 1 : k, :]
        counts += (noisy >= kth).sum(axis=2)[codes, col]
        done += m
    return counts / draws


def epsilon_inclusion(
    customer_ids: np.ndarray, greedy_rank: np.ndarray, k: int, epsilon: float
) -> np.ndarray:
    """Exact inclusion probability under epsilon-greedy list serving."""
    codes, _, sizes = _groups(customer_ids)
    n = sizes[codes].astype(np.float64)
    return (1 - epsilon) * (greedy_rank <= k) + epsilon * np.minimum(k, n) / np.maximum(n, 1)


def choose_lists(
    customer_ids: np.ndarray,
    offer_ids: np.ndarray,
    key: np.ndarray,
    k: int,
    *,
    mode: str = "greedy",
    epsilon: float = 0.1,
    temperature: float = 1.0,
    draws: int = 1000,
    rng: np.random.Generator | None = None,
) -> Served:
    """Choose each customer's served list from the key, with every pair's inclusion propensity."""
    if mode not in SERVING_MODES:
        raise OfferrankError(f"serving must be one of {SERVING_MODES}, not {mode!r}")
    cust = np.asarray(customer_ids, dtype=np.int64)
    offer = np.asarray(offer_ids, dtype=np.int64)
    key = np.asarray(key, dtype=np.float64)
    rng = rng or np.random.default_rng(0)
    greedy = rank_within_customer(cust, offer, key)
    if mode == "greedy":
        return Served(np.where(greedy <= k, greedy, 0), (greedy <= k).astype(np.float64))
    if mode == "epsilon":
        codes, _, sizes = _groups(cust)
        explore = (rng.random(sizes.size) < epsilon)[codes]
        shuffled = rank_within_customer(cust, offer, rng.random(cust.size))
        rank = np.where(explore, shuffled, greedy)
        return Served(np.where(rank <= k, rank, 0), epsilon_inclusion(cust, greedy, k, epsilon))
    logits = pl_logits(key, temperature)
    position = gumbel_top_k(cust, offer, logits, k, rng)
    inclusion = pl_inclusion(cust, logits, k, draws, rng)
    served = position > 0
    # The realised draw is one more sample of the policy: count it, so a served pair is never 0.
    inclusion = np.where(
        served, (inclusion * draws + 1) / (draws + 1), inclusion * draws / (draws + 1)
    )
    return Served(position, inclusion)


def served_top_k(
    customer_ids: np.ndarray,
    offer_ids: np.ndarray,
    scores: np.ndarray,
    key: np.ndarray,
    settings: Settings,
    run_date: date,
    rank: np.ndarray | None = None,
) -> pa.Table:
    """The served list as recommendations rows: customer_id, offer_id, rank, score, propensity.

    `rank` is the served position; `score` stays the calibrated probability whatever the
    ranking key; greedy serving records propensity 1.0 (a deterministic choice). Every
    draw of the exploring modes is a hash of (serving seed, date, customer[, offer]), and
    the Plackett-Luce propensities are estimated per block of customers, so a customer's
    list is the same whichever other customers are served with it (partitions).
    """
    k = settings.top_k
    cust = np.asarray(customer_ids, dtype=np.int64)
    offer = np.asarray(offer_ids, dtype=np.int64)
    greedy = rank if rank is not None else rank_within_customer(cust, offer, key)
    seed = day_seed(settings.serving_seed, run_date.toordinal())
    if settings.serving == "greedy":
        served = Served(np.where(greedy <= k, greedy, 0), (greedy <= k).astype(np.float64))
    elif settings.serving == "epsilon":
        eps = settings.exploration_epsilon
        explore = unit(id_hash(cust, seed)) < eps
        shuffled = rank_within_customer(cust, offer, unit(pair_hash(cust, offer, seed + 1)))
        position = np.where(explore, shuffled, greedy)
        served = Served(
            np.where(position <= k, position, 0), epsilon_inclusion(cust, greedy, k, eps)
        )
    else:
        served = _plackett_luce(cust, offer, key, settings, seed)
    rows = served.rows
    rows = rows[np.lexsort((served.position[rows], cust[rows]))]
    return _table(
        cust[rows], offer[rows], served.position[rows], scores[rows], served.inclusion[rows]
    )


def _plackett_luce(
    cust: np.ndarray, offer: np.ndarray, key: np.ndarray, settings: Settings, seed: int
) -> Served:
    """The realised Plackett-Luce lists (Gumbel noise from a hash of each pair) and their
    inclusion propensities, estimated block by block of customers."""
    k, draws = settings.top_k, settings.propensity_draws
    if cust.size == 0:
        return Served(np.zeros(0, np.int64), np.zeros(0))
    logits = pl_logits(key, settings.exploration_temperature)
    gumbel = -np.log(-np.log(unit(pair_hash(cust, offer, seed + 2))))
    position = rank_within_customer(cust, offer, logits + gumbel)
    position = np.where(position <= k, position, 0)
    inclusion = np.empty(cust.size)
    blocks = cust // PARTITION_BLOCK  # a partition holds whole blocks
    order = np.argsort(blocks, kind="stable")
    bounds = np.flatnonzero(np.diff(blocks[order])) + 1
    for rows in np.split(order, bounds):
        rng = np.random.default_rng([seed, int(blocks[rows[0]])])
        inclusion[rows] = pl_inclusion(cust[rows], logits[rows], k, draws, rng)
    served = position > 0
    # The realised draw is one more sample of the policy: count it, so a served pair is never 0.
    inclusion = np.where(
        served, (inclusion * draws + 1) / (draws + 1), inclusion * draws / (draws + 1)
    )
    return Served(position, inclusion)


def _table(
    cust: np.ndarray, offer: np.ndarray, rank: np.ndarray, score: np.ndarray, propensity: np.ndarray
) -> pa.Table:
    return pa.table(
        {
            "customer_id": cust.astype(np.int64),
            "offer_id": offer.astype(np.int64),
            "rank": rank.astype(np.int64),
            "score": score.astype(np.float64),
            "propensity": propensity.astype(np.float64),
        }
    )
