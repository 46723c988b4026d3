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
from offerrank.progress import track

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

# How the per-(key, as_of) window sums are built. WINDOW_PLAN: RANGE frames over daily
# aggregates, one sort per key for any number of as_of dates (training). JOIN_PLAN: each
# (key, as_of) joined to the daily rows of its own window, then grouped; it reads every
# daily row once per as_of date, which is cheapest for a few dates. SINGLE_PLAN: one as_of
# date (a scoring day) shares one window, so the lines in it are grouped directly.
WINDOW_PLAN = "window"
JOIN_PLAN = "join"
SINGLE_PLAN = "single"
# Up to this many distinct as_of dates the join plan wins on the medium world (measured
# with bench/bench_features.py: at 4 dates it still beats the window plan, at 8 they tie).
JOIN_PLAN_MAX_DATES = 4

# Intermediate tables, in build order, and the SQL file that builds each under each plan.
_SHARED_HEAD = (
    "customer_keys",
    "offer_keys",
    "customer_orders",
    "customer_lines",
    "customer_daily",
    "category_daily",
    "product_daily",
)
_PLANNED = ("category_window", "customer_totals", "product_window")
_SHARED_TAIL = ("customer_entropy", "customer_window", "offer_history")
STAGES: tuple[str, ...] = _SHARED_HEAD + _PLANNED + _SHARED_TAIL
PLAN_FILES: dict[str, dict[str, str]] = {
    WINDOW_PLAN: {stage: stage for stage in STAGES},
    JOIN_PLAN: {stage: f"{stage}_by_join" if stage in _PLANNED else stage for stage in STAGES},
    SINGLE_PLAN: {stage: f"{stage}_single" if stage in _PLANNED else stage for stage in STAGES},
}
# Daily aggregates read by exactly one later stage: a view lets that stage stream them
# instead of writing (and compressing) millions of rows into a table first.
VIEW_STAGES: frozenset[str] = frozenset({"customer_daily", "category_daily", "product_daily"})
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


def choose_plan(query: pa.Table) -> str:
    """SINGLE_PLAN for one as_of date, JOIN_PLAN for a few, else WINDOW_PLAN."""
    n_dates = len(pc.unique(query.column("as_of")))
    if n_dates <= 1:
        return SINGLE_PLAN
    return JOIN_PLAN if n_dates <= JOIN_PLAN_MAX_DATES else WINDOW_PLAN


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
    return compute_features_with_plan(
        con, pairs, None, lookback_days=lookback_days, label_window_days=label_window_days
    )


def compute_features_with_plan(
    con: duckdb.DuckDBPyConnection,
    pairs: pa.Table,
    plan: str | None,
    *,
    lookback_days: int = 90,
    label_window_days: int = 7,
) -> pa.Table:
    """compute_features under a given plan (None: choose_plan). Both plans give the same
    values; forcing one lets tests prove it and benchmarks compare them."""
    if lookback_days < 1 or label_window_days < 0:
        raise ValueError("lookback_days must be >= 1 and label_window_days >= 0")
    if label_window_of(con) != label_window_days:
        build_impression_labels(con, label_window_days)
    query = _query_pairs(pairs)
    plan = plan or choose_plan(query)
    if plan == SINGLE_PLAN and len(pc.unique(query.column("as_of"))) > 1:
        raise ValueError("the single plan takes one as_of date; this batch has several")
    files = PLAN_FILES[plan]
    params = {"lookback": lookback_days, "label_window": label_window_days}
    con.register(QUERY_TABLE, query)
    try:
        for stage in track(STAGES, "features"):
            build_table(con, files[stage], params, into=stage, view=stage in VIEW_STAGES)
        result = read_arrow(con, "pair_features", params)
    finally:
        for stage in reversed(STAGES):
            kind = "VIEW" if stage in VIEW_STAGES else "TABLE"
            con.execute(f"DROP {kind} IF EXISTS {stage}")
        con.unregister(QUERY_TABLE)
    return _in_input_order(query, result)


def _in_input_order(query: pa.Table, result: pa.Table) -> pa.Table:
    """Keys straight from the input; features put back at their input position (row_id).

    DuckDB's joins hand rows back nearly in probe order: a few runs of consecutive
    row_ids. Those runs are put in order as zero-copy slices (a gather of 1.9M rows x 22
    columns costs more than the whole SQL); any other order falls back to one gather.
    """
    features = result.select(["row_id", *FEATURE_COLUMNS])
    ordered = ordered_by_row_id(features).drop_columns(["row_id"])
    columns = [query.column(c) for c in KEY_COLUMNS] + ordered.columns
    return pa.Table.from_arrays(columns, schema=_schema())


# More runs than this and slicing stops paying: one gather is cheaper than many slices.
MAX_ORDER_RUNS = 4096


def ordered_by_row_id(table: pa.Table, max_runs: int = MAX_ORDER_RUNS) -> pa.Table:
    """`table` sorted by its `row_id` column, a permutation of 0..n-1.

    Splits the rows where row_id does not go up by exactly one; each piece is then a
    range of consecutive ids, and the pieces sorted by their first id tile 0..n-1.
    """
    row_id = table.column("row_id").to_numpy()
    if row_id.size == 0:
        return table
    starts = np.concatenate(([0], np.flatnonzero(np.diff(row_id) != 1) + 1))
    if starts.size > max_runs:
        return table.combine_chunks().take(pa.array(np.argsort(row_id, kind="stable")))
    stops = np.append(starts[1:], row_id.size)
    pieces = [
        table.slice(int(starts[i]), int(stops[i] - starts[i]))
        for i in np.argsort(row_id[starts], kind="stable")
    ]
    return pa.concat_tables(pieces)
