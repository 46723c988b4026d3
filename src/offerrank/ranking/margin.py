"""Margin-aware ranking: order candidates by expected margin instead of probability alone.

A redemption sells the offer's product at the offer price, so what a retailer earns
from showing a pair is, in expectation, the redemption probability times the unit
margin left at that price:

    unit_margin     = list_price * (1 - discount_pct) - unit_cost
    expected_margin = calibrated probability * unit_margin

The discount is already netted out: `unit_margin` is the full-price margin minus the
discount given (`list_price * discount_pct`). A pair sold below cost has a negative
expected margin and sinks to the bottom of its customer's list. Only a calibrated
probability makes the product meaningful, which is why the model's scores are
calibrated before they reach this module.
"""

from __future__ import annotations

import numpy as np

from offerrank.engines.base import Engine
from offerrank.errors import OfferrankError

RANK_BY = ("probability", "expected_margin")


def unit_margins(engine: Engine, offer_ids: np.ndarray) -> np.ndarray:
    """Unit margin at the offer price for each offer id, in input order; an id without
    offer or product row is an error (its margin is unknown, not zero)."""
    facts = engine.offer_facts(offer_ids)
    margin = facts.column("unit_margin").to_numpy(zero_copy_only=False).astype(np.float64)
    if np.isnan(margin).any():
        ids = np.asarray(offer_ids, dtype=np.int64)
        missing = np.unique(ids[np.isnan(margin)])[:5].tolist()
        raise OfferrankError(f"unit margin unknown for offers {missing} (no offer or product)")
    return margin


def expected_margin(probability: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """Probability times unit margin: the margin a pair earns in expectation if shown."""
    return np.asarray(probability, dtype=np.float64) * np.asarray(margin, dtype=np.float64)


def ranking_key(probability: np.ndarray, margin: np.ndarray | None, rank_by: str) -> np.ndarray:
    """The value candidates are sorted by: the probability, or the expected margin."""
    if rank_by not in RANK_BY:
        raise OfferrankError(f"rank_by must be one of {RANK_BY}, not {rank_by!r}")
    if rank_by == "probability":
        return np.asarray(probability, dtype=np.float64)
    if margin is None:
        raise OfferrankError("rank_by='expected_margin' needs the unit margins")
    return expected_margin(probability, margin)
