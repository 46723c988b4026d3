"""Point-in-time features for any (customer, offer, as_of) rows, in one batch of SQL.

Training (as_of = each impression's shown_date) and scoring (as_of = the run date) call
the same function: the SQL builds per-(customer, as_of), per-(customer, category,
as_of), per-(customer, product, as_of) and per-(product, as_of) tables once, from daily
aggregates and window functions, then joins them to the requested rows.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.features.engine import build_impression_labels, label_window_of
from offerrank.features.queries import build_table, read_arrow

FEATURE_COLUMNS: tuple[str, ...] = (
    # customer
    "recency_days",
    "frequency",
    "monetary",
    "promo_affinity",
    "avg_basket_size",
    "avg_basket_quantity",
    "tier2_purchase_ratio",
    "tier3_purchase_ratio",
    "fresh_category_ratio",
    "business_order_ratio",
    "category_entropy",
    # offer
    "discount_depth",
    "margin_impact",
    "days_until_expiry",
    "historical_redemption_rate",
    "is_own_brand",
    # interaction
    "bought_product_before",
    "days_since_last_cat_purchase",
    "category_affinity_score",
    "discount_depth_vs_usual",
    "price_sensitivity_match",
    "business_type_match",
)
KEY_COLUMNS: tuple[str, ...] = ("customer_id", "offer_id", "as_of")

# Intermediate tables, in build order; each is built by the SQL file of the same name.
STAGES: tuple[str, ...] = (
    "customer_keys",
    "offer_keys",
    "customer_orders",
    "customer_lines",
    "customer_daily",
    "category_window",
    "customer_entropy",
    "customer_window",
    "product_window",
    "offer_history",
)
QUERY_TABLE = "query_pairs"


def _query_pairs(pairs: pa.Table) -> pa.Table:
    """The requested rows, typed, with a row number that fixes the output order."""
    missing = [c for c in KEY_COLUMNS if c not in pairs.column_names]
    if missing:
        raise ValueError(f"pairs is missing column(s): {', '.join(missing)}")
    as_of = pairs.column("as_of")
    if not pa.types.is_date32(as_of.type):
        as_of = pc.cast(as_of, pa.date32())
    return pa.table(
        {
            "row_id": pa.array(np.arange(pairs.num_rows, dtype=np.int64)),
            "customer_id": pc.cast(pairs.column("customer_id"), pa.int64()),
            "offer_id": pc.cast(pairs.column("offer_id"), pa.int64()),
            "as_of": as_of,
        }
    )


def _schema() -> pa.Schema:
    keys = [("customer_id", pa.int64()), ("offer_id", pa.int64()), ("as_of", pa.date32())]
    return pa.schema(keys + [(name, pa.float64()) for name in FEATURE_COLUMNS])


def compute_features(
    con: duckdb.DuckDBPyConnection,
    pairs: pa.Table,
    *,
    lookback_days: int = 90,
    label_window_days: int = 7,
) -> pa.Table:
    """Features of every row of `pairs` (customer_id, offer_id, as_of) as of its own as_of.

    Returns customer_id, offer_id, as_of and the 22 FEATURE_COLUMNS (float64, never null),
    exactly one row per input row, in input order; duplicate rows are allowed. Only events
    dated before each row's as_of count, so any number of as_of dates may share one call.
    """
    if lookback_days < 1 or label_window_days < 0:
        raise ValueError("lookback_days must be >= 1 and label_window_days >= 0")
    if label_window_of(con) != label_window_days:
        build_impression_labels(con, label_window_days)
    params = {"lookback": lookback_days, "label_window": label_window_days}
    con.register(QUERY_TABLE, _query_pairs(pairs))
    try:
        for stage in STAGES:
            build_table(con, stage, params)
        result = read_arrow(con, "pair_features", params)
    finally:
        for stage in STAGES:
            con.execute(f"DROP TABLE IF EXISTS {stage}")
        con.unregister(QUERY_TABLE)
    return _in_input_order(result).cast(_schema())


def _in_input_order(result: pa.Table) -> pa.Table:
    """Put rows back at their input position (row_id) with one scatter, not a SQL sort."""
    position = np.empty(result.num_rows, dtype=np.int64)
    position[result.column("row_id").to_numpy()] = np.arange(result.num_rows, dtype=np.int64)
    return result.take(pa.array(position)).drop_columns(["row_id"])
