"""Point-in-time features for any (customer, offer, as_of) rows, on DuckDB, in one batch.

Training (as_of = each impression's shown_date) and scoring (as_of = the run date) call
the same function: the stages of `features.plans` build per-(customer, as_of),
per-(customer, category, as_of), per-(customer, product, as_of) and per-(product, as_of)
tables once, then `pair_features.sql` joins them to the requested rows, and each
registered extra feature's own file adds its column.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.engines.duckdb.sql import build_table, read_arrow
from offerrank.engines.duckdb.tables import build_impression_labels, label_window_of
from offerrank.features.plans import (
    ASSEMBLY,
    PLAN_FILES,
    QUERY_TABLE,
    SINGLE_PLAN,
    STAGES,
    VIEW_STAGES,
    check_parameters,
    plan_for,
)
from offerrank.features.registry import (
    DEFAULT_FEATURES,
    KEY_COLUMNS,
    FeatureSet,
    feature_schema,
    ordered_by_row_id,
    query_pairs,
)
from offerrank.progress import track


def choose_plan(query: pa.Table) -> str:
    """The plan for a batch, by its number of distinct as_of dates (`plans.plan_for`)."""
    return plan_for(len(pc.unique(query.column("as_of"))))


def compute_features(
    con: duckdb.DuckDBPyConnection,
    pairs: pa.Table,
    *,
    lookback_days: int = 90,
    label_window_days: int = 7,
    plan: str | None = None,
    feature_set: FeatureSet = DEFAULT_FEATURES,
) -> pa.Table:
    """Features of every row of `pairs` (customer_id, offer_id, as_of) as of its own as_of.

    Returns customer_id, offer_id, as_of and the feature set's columns (float64, never
    null), exactly one row per input row, in input order; duplicate rows are allowed. Only
    events dated before each row's as_of count, so any number of as_of dates may share
    one call. Every plan gives the same values; forcing one (`plan`) lets tests prove it.
    """
    params = check_parameters(lookback_days, label_window_days)
    if label_window_of(con) != label_window_days:
        build_impression_labels(con, label_window_days)
    query = query_pairs(pairs)
    plan = plan or choose_plan(query)
    if plan == SINGLE_PLAN and len(pc.unique(query.column("as_of"))) > 1:
        raise ValueError("the single plan takes one as_of date; this batch has several")
    files = PLAN_FILES[plan]
    con.register(QUERY_TABLE, query)
    try:
        for stage in track(STAGES, "features"):
            build_table(con, files[stage], params, into=stage, view=stage in VIEW_STAGES)
        result = read_arrow(con, ASSEMBLY, params)
        extras = [
            ordered_by_row_id(read_arrow(con, f.sql, params, f.package))
            for f in feature_set.extras
            if f.sql is not None
        ]
    finally:
        for stage in reversed(STAGES):
            kind = "VIEW" if stage in VIEW_STAGES else "TABLE"
            con.execute(f"DROP {kind} IF EXISTS {stage}")
        con.unregister(QUERY_TABLE)
    return _in_input_order(query, result, extras, feature_set)


def _in_input_order(
    query: pa.Table, result: pa.Table, extras: list[pa.Table], feature_set: FeatureSet
) -> pa.Table:
    """Keys straight from the input; features put back at their input position (row_id)."""
    core = [f.name for f in feature_set.features if f.sql is None]
    ordered = ordered_by_row_id(result.select(["row_id", *core]))
    columns = {name: ordered.column(name) for name in core}
    for extra, feature in zip(extras, feature_set.extras, strict=True):
        row_id = extra.column("row_id").to_numpy()
        if row_id.size != query.num_rows or not np.array_equal(row_id, np.arange(row_id.size)):
            raise ValueError(
                f"{feature.sql}.sql must return exactly one row per requested row_id"
                f" ({extra.num_rows} rows for {query.num_rows} requested)"
            )
        columns[feature.name] = extra.column(feature.name).cast(pa.float64())
    schema = feature_schema(feature_set)
    arrays = [query.column(c) for c in KEY_COLUMNS] + [columns[n] for n in feature_set.columns]
    return pa.Table.from_arrays(arrays, schema=schema)
