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

import duckdb
import numpy as np
import pyarrow as pa

from offerrank.errors import OfferrankError

RANK_BY = ("probability", "expected_margin")

UNIT_MARGIN_SQL = """
SELECT q.row_id,
       p.list_price * (1 - o.discount_pct) - p.unit_cost AS unit_margin
FROM margin_query q
LEFT JOIN offers o ON o.offer_id = q.offer_id
LEFT JOIN products p ON p.product_id = o.product_id
ORDER BY q.row_id
"""


def margin_query(offer_ids: np.ndarray) -> pa.Table:
    """The `margin_query` table UNIT_MARGIN_SQL reads: each offer id with its position."""
    ids = np.asarray(offer_ids, dtype=np.int64)
    return pa.table({"row_id": np.arange(ids.size, dtype=np.int64), "offer_id": ids})


def checked_margins(offer_ids: np.ndarray, out: pa.Table) -> np.ndarray:
    """UNIT_MARGIN_SQL's result as floats; an offer without offer or product row is an error."""
    margin = out.column("unit_margin").to_numpy(zero_copy_only=False).astype(np.float64)
    if np.isnan(margin).any():
        ids = np.asarray(offer_ids, dtype=np.int64)
        missing = np.unique(ids[np.isnan(margin)])[:5].tolist()
        raise OfferrankError(f"unit margin unknown for offers {missing} (no offer or product)")
    return margin


def unit_margin(con: duckdb.DuckDBPyConnection, offer_ids: np.ndarray) -> np.ndarray:
    """Unit margin at the offer price for each offer id, in input order (one SQL join)."""
    con.register("margin_query", margin_query(offer_ids))
    try:
        out = con.sql(UNIT_MARGIN_SQL).to_arrow_table()
    finally:
        con.unregister("margin_query")
    return checked_margins(offer_ids, out)


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
