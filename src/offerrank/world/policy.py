"""The logging policy: which offers were shown to whom, and with what probability.

Part exploration (uniform over eligible offers), part targeting (offers in the
categories a customer has been buying). Each shown customer gets a few draws with
replacement, duplicates collapse, and the exact probability that an offer ended up
shown (customer selection included) is written as `propensity` for off-policy use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offerrank.world.columns import distinct
from offerrank.world.history import History, LineBuffer, summarize
from offerrank.world.market import Offers
from offerrank.world.population import Catalogue, Population
from offerrank.world.presets import CHANNELS, Preset, rng_for

STREAM_POLICY = 3
EXPLORE = 0.4
CHANNEL_SHARE = np.array([0.5, 0.35, 0.15])
ROWS_PER_BLOCK = 1024


def pair_keys(customers: np.ndarray, offer_ids: np.ndarray) -> np.ndarray:
    """One int64 per (customer index, offer id): how shown pairs are remembered."""
    return (customers.astype(np.int64) << 32) | offer_ids.astype(np.int64)


@dataclass
class PairSet:
    """(customer, offer) pairs of offers still running: sorted `pair_keys` and, for each,
    the last day of its offer, so that pairs of ended offers drop out without a lookup."""

    keys: np.ndarray
    ends: np.ndarray

    @classmethod
    def empty(cls) -> PairSet:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    def add(self, customers: np.ndarray, offer_ids: np.ndarray, ends: np.ndarray) -> PairSet:
        """This set with the given pairs in it (a month of pairs merged with a day's: only
        the day's are sorted)."""
        new = pair_keys(customers, offer_ids)
        order = np.argsort(new, kind="stable")
        new, new_ends = new[order], np.asarray(ends, dtype=np.int64)[order]
        first = np.concatenate(([True], new[1:] != new[:-1])) if new.size else new.astype(bool)
        new, new_ends = new[first], new_ends[first]
        if self.keys.size:
            pos = np.searchsorted(self.keys, new)
            fresh = self.keys[np.minimum(pos, self.keys.size - 1)] != new
            return PairSet(
                np.insert(self.keys, pos[fresh], new[fresh]),
                np.insert(self.ends, pos[fresh], new_ends[fresh]),
            )
        return PairSet(new, new_ends)

    def running_on(self, day: int) -> PairSet:
        keep = self.ends >= day
        return PairSet(self.keys[keep], self.ends[keep])

    def contains(self, keys: np.ndarray) -> np.ndarray:
        if self.keys.size == 0:
            return np.zeros(keys.shape, dtype=bool)
        at = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
        return self.keys[at] == keys


@dataclass
class Shown:
    customer: np.ndarray
    offer_pos: np.ndarray
    propensity: np.ndarray
    channel: np.ndarray  # object array of channel names
    history: History


def _draw_columns(probs: np.ndarray, u: np.ndarray, first_row: int = 0) -> np.ndarray:
    """Column index per (row, draw) from row-wise probabilities, via one searchsorted.

    Rows are numbered from `first_row`, so that a block of rows draws exactly what the
    same rows draw as part of the whole grid (the offsets below are the same floats).
    """
    m, a = probs.shape
    offset = 2.0 * np.arange(first_row, first_row + m)[:, None]
    cum = np.cumsum(probs, axis=1)
    cum = cum / np.where(cum[:, -1:] > 0, cum[:, -1:], 1.0)  # rows end at exactly 1
    flat = (cum + offset).ravel()
    target = offset + u
    pos = np.searchsorted(flat, target.ravel(), side="right").reshape(u.shape)
    # u close to 1 can round to the row's end (2r + u == 2r + 1 in floating point), and
    # then lands past trailing zero-probability columns: clamp to the last positive one.
    last_positive = a - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)
    return np.minimum(pos - a * np.arange(m)[:, None], last_positive[:, None])


def _already_shown(
    shown_keys: np.ndarray, cust: np.ndarray, offer_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) cells of the customer x offer grid that were shown before."""
    shown_cust = shown_keys >> 32
    shown_offer = shown_keys & 0xFFFFFFFF
    row = np.searchsorted(cust, shown_cust)
    col = np.searchsorted(offer_ids, shown_offer)
    row_c, col_c = np.minimum(row, cust.size - 1), np.minimum(col, offer_ids.size - 1)
    hit = (cust[row_c] == shown_cust) & (offer_ids[col_c] == shown_offer)
    return row_c[hit], col_c[hit]


def choose_impressions(
    preset: Preset,
    seed: int,
    day: int,
    pop: Population,
    catalogue: Catalogue,
    offers: Offers,
    lines: LineBuffer,
    shown_keys: np.ndarray,
) -> Shown:
    """Today's impressions: a share of signed-up customers, a few eligible offers each."""
    rng = rng_for(seed, day, STREAM_POLICY)
    picked = rng.random(pop.size) < preset.show_share
    cust = np.flatnonzero(picked & (pop.signup_day <= day))
    hist = summarize(lines, cust, day, catalogue)
    active = np.flatnonzero((offers.start <= day) & (offers.end >= day))
    empty = np.zeros(0, dtype=np.int64)
    if cust.size == 0 or active.size == 0:
        return Shown(empty, empty, np.zeros(0), np.array([], dtype=object), hist)
    # Weights and their row sums over the whole grid, exactly as the world always computed
    # them: NumPy picks the memory layout of these matrices from their shapes, a row sum
    # follows the layout (sequential or pairwise) and the draws follow the sums to the
    # last bit. Only what is row by row (probabilities, draws) goes by blocks.
    target = offers.target[active]
    eligible = (target[None, :] == -1) | (target[None, :] == pop.type_index[cust][:, None])
    eligible[_already_shown(shown_keys, cust, offers.offer_id[active])] = False
    lines_n = np.maximum(hist.n_lines, 1)[:, None]
    share = hist.category_lines[:, catalogue.category[offers.product[active]]] / lines_n
    weight = (0.02 + share) * eligible
    grid = _Grid(
        eligible,
        eligible.sum(axis=1, keepdims=True),
        weight,
        weight.sum(axis=1, keepdims=True),
    )
    draws = preset.draws_per_customer
    u = rng.random((cust.size, draws))
    blocks = [
        grid.draw(start, min(start + ROWS_PER_BLOCK, cust.size), u)
        for start in range(0, cust.size, ROWS_PER_BLOCK)
    ]
    row, col, p = (np.concatenate(parts) for parts in zip(*blocks, strict=True))
    channel = np.array(CHANNELS, dtype=object)[rng.choice(len(CHANNELS), row.size, p=CHANNEL_SHARE)]
    return Shown(
        customer=cust[row],
        offer_pos=active[col],
        propensity=preset.show_share * (1.0 - (1.0 - p) ** draws),
        channel=channel,
        history=hist,
    )


@dataclass
class _Grid:
    """The shown customers x active offers grid, drawn a block of rows at a time (the
    probabilities and the cumulative sums of a block stay in cache)."""

    eligible: np.ndarray
    n_eligible: np.ndarray
    weight: np.ndarray
    weight_sum: np.ndarray

    def draw(
        self, start: int, stop: int, u: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, probability) of the distinct cells drawn for rows [start, stop)."""
        rows, a = slice(start, stop), self.eligible.shape[1]
        ok = self.n_eligible[rows, 0] > 0
        probs = EXPLORE * self.eligible[rows] / np.maximum(self.n_eligible[rows], 1) + (
            1 - EXPLORE
        ) * self.weight[rows] / np.maximum(self.weight_sum[rows], 1e-12)
        draws = u.shape[1]
        cols = _draw_columns(probs, u[rows], first_row=start)
        local = np.repeat(np.arange(stop - start), draws)
        flat = distinct((local * a + cols.ravel())[ok[local]])
        row, col = flat // a, flat % a
        return row + start, col, probs[row, col]
