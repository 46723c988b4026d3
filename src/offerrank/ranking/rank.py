"""Score candidate pairs with the active model and keep the top K per customer."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pyarrow as pa

from offerrank.config import Settings
from offerrank.features.compute import FEATURE_COLUMNS, compute_features
from offerrank.training.models import Ranker, predict_proba


def feature_matrix(features: pa.Table) -> np.ndarray:
    return np.column_stack([features.column(c).to_numpy() for c in FEATURE_COLUMNS]).astype(
        np.float64
    )


def score_pairs(
    con: duckdb.DuckDBPyConnection,
    pairs: pa.Table,
    as_of: date,
    model: Ranker,
    settings: Settings,
) -> tuple[pa.Table, np.ndarray]:
    """Features as of `as_of` and calibrated scores for (customer_id, offer_id) pairs."""
    n = pairs.num_rows
    query = pa.table(
        {
            "customer_id": pairs.column("customer_id").cast(pa.int64()),
            "offer_id": pairs.column("offer_id").cast(pa.int64()),
            "as_of": pa.array([as_of] * n, type=pa.date32()) if n else pa.array([], pa.date32()),
        }
    )
    feats = compute_features(
        con,
        query,
        lookback_days=settings.lookback_days,
        label_window_days=settings.label_window_days,
    )
    X = feature_matrix(feats)
    scores = predict_proba(model, X) if n else np.zeros(0)
    return feats, scores


def top_k(customer_ids: np.ndarray, offer_ids: np.ndarray, scores: np.ndarray, k: int) -> pa.Table:
    """Rank within each customer by score (ties: lower offer_id first), keep ranks 1..k.

    Independent of the input order: the order is fully determined by (customer, -score, offer).
    """
    order = np.lexsort((offer_ids, -scores, customer_ids))
    c, o, s = customer_ids[order], offer_ids[order], scores[order]
    if c.size == 0:
        return pa.table({"customer_id": c, "offer_id": o, "rank": c, "score": s})
    starts = np.r_[True, c[1:] != c[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(c.size), 0))
    rank = np.arange(c.size) - group_start + 1
    keep = rank <= k
    return pa.table(
        {
            "customer_id": c[keep].astype(np.int64),
            "offer_id": o[keep].astype(np.int64),
            "rank": rank[keep].astype(np.int64),
            "score": s[keep],
        }
    )
