"""The rank step's reasons: codes for every served pair, written with the recommendations."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.delivery.attribution import served_contributions
from offerrank.delivery.offers import offer_details
from offerrank.delivery.reasons import REASON_COLUMNS, choose_reasons
from offerrank.engines.base import Scored
from offerrank.errors import RunError
from offerrank.training.models import Ranker

KEYS = ("customer_id", "offer_id")


def _text_keys(t: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(*(pc.cast(t.column(c), pa.string()) for c in KEYS), ":")


def served_rows(
    feats: pa.Table, served: pa.Table, ranks: np.ndarray | None = None, top_k: int = 0
) -> np.ndarray:
    """Positions in `feats` of the served (customer_id, offer_id) pairs, in served order.

    Greedy serving serves ranks 1..top_k in (customer, rank) order, so with the pairs'
    `ranks` those positions are tried first, and kept only when they are exactly the served
    pairs. Otherwise (any serving): a hash lookup on one integer per pair, customer x
    (largest offer id + 1) + offer when that fits in 63 bits, else on the pair as text.
    """
    cust, offer = (np.asarray(feats.column(c).to_numpy(), np.int64) for c in KEYS)
    s_cust, s_offer = (np.asarray(served.column(c).to_numpy(), np.int64) for c in KEYS)
    if cust.size == 0:
        return np.zeros(0, np.int64)
    if ranks is not None:
        rows = np.flatnonzero(ranks <= top_k)
        rows = rows[np.lexsort((ranks[rows], cust[rows]))]
        if np.array_equal(cust[rows], s_cust) and np.array_equal(offer[rows], s_offer):
            return rows
    width = int(max(offer.max(), s_offer.max())) + 1
    lowest = min(int(cust.min()), int(offer.min()), int(s_cust.min()), int(s_offer.min()))
    if lowest >= 0 and max(int(cust.max()), int(s_cust.max())) < (2**63 - 1) // width - 1:
        rows = pc.index_in(s_cust * width + s_offer, value_set=pa.array(cust * width + offer))
    else:
        rows = pc.index_in(_text_keys(served), value_set=_text_keys(feats))
    if rows.null_count:
        raise RunError(f"{rows.null_count} served pairs are not among the scored pairs")
    return np.asarray(rows.to_numpy(zero_copy_only=False), dtype=np.int64)


def reason_codes(
    store: sqlite3.Connection,
    model: Ranker,
    scored: Scored,
    served: pa.Table,
    ranks: np.ndarray | None = None,
    top_k: int = 0,
) -> tuple[pa.Array, float]:
    """The `reason_codes` column of the served rows (`served`, in its order) and the
    seconds it took (the run metric `duration_reasons_s`)."""
    t0 = time.perf_counter()
    rows = served_rows(scored.features, served, ranks, top_k)
    X = scored.X[rows]
    contrib = served_contributions(model, X, REASON_COLUMNS)
    offers = served.column("offer_id").to_numpy()
    details = offer_details(store, np.unique(offers).tolist())
    targeted_ids = [o for o, d in details.items() if d.target_business_type is not None]
    chosen = choose_reasons(contrib, X[:, REASON_COLUMNS], np.isin(offers, targeted_ids))
    return chosen.as_json(), time.perf_counter() - t0
