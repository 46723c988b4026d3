"""The logging policy: which offers were shown to whom, and with what probability.

Part exploration (uniform over eligible offers), part targeting (offers in the
categories a customer has been buying). Each shown customer gets a few draws with
replacement, duplicates collapse, and the exact probability that an offer ended up
shown (customer selection included) is written as `propensity` for off-policy use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offerrank.world.history import History, LineBuffer, summarize
from offerrank.world.market import Offers
from offerrank.world.population import Catalogue, Population
from offerrank.world.presets import CHANNELS, Preset, rng_for

STREAM_POLICY = 3
EXPLORE = 0.4
CHANNEL_SHARE = np.array([0.5, 0.35, 0.15])


def pair_keys(customers: np.ndarray, offer_ids: np.ndarray) -> np.ndarray:
    """One int64 per (customer index, offer id): how shown pairs are remembered."""
    return (customers.astype(np.int64) << 32) | offer_ids.astype(np.int64)


@dataclass
class Shown:
    customer: np.ndarray
    offer_pos: np.ndarray
    propensity: np.ndarray
    channel: np.ndarray  # object array of channel names
    history: History


def _draw_columns(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Column index per (row, draw) from row-wise probabilities, via one searchsorted."""
    m, a = probs.shape
    cum = np.cumsum(probs, axis=1)
    cum = cum / np.where(cum[:, -1:] > 0, cum[:, -1:], 1.0)  # rows end at exactly 1
    flat = (cum + 2.0 * np.arange(m)[:, None]).ravel()
    target = 2.0 * np.arange(m)[:, None] + u
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
    target = offers.target[active]
    eligible = (target[None, :] == -1) | (target[None, :] == pop.type_index[cust][:, None])
    eligible[_already_shown(shown_keys, cust, offers.offer_id[active])] = False
    lines_n = np.maximum(hist.n_lines, 1)[:, None]
    share = hist.category_lines[:, catalogue.category[offers.product[active]]] / lines_n
    weight = (0.02 + share) * eligible
    n_eligible = eligible.sum(axis=1, keepdims=True)
    ok = n_eligible[:, 0] > 0
    probs = EXPLORE * eligible / np.maximum(n_eligible, 1) + (1 - EXPLORE) * weight / np.maximum(
        weight.sum(axis=1, keepdims=True), 1e-12
    )
    draws = preset.draws_per_customer
    cols = _draw_columns(probs, rng.random((cust.size, draws)))
    rows = np.repeat(np.arange(cust.size), draws)
    flat = np.unique((rows * active.size + cols.ravel())[ok[rows]])
    row, col = flat // active.size, flat % active.size
    p = probs[row, col]
    channel = np.array(CHANNELS, dtype=object)[
        rng.choice(len(CHANNELS), flat.size, p=CHANNEL_SHARE)
    ]
    return Shown(
        customer=cust[row],
        offer_pos=active[col],
        propensity=preset.show_share * (1.0 - (1.0 - p) ** draws),
        channel=channel,
        history=hist,
    )
