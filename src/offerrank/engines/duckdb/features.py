"""Point-in-time features for any (customer, offer, as_of) rows, on DuckDB, in one batch.

Training (as_of = each impression's shown_date) and scoring (as_of = the run date) call
the same function: the stages of `features.plans` build per-(customer, as_of),
per-(customer, category, as_of), per-(customer, product, as_of) and per-(product, as_of)
tables once, then `pair_features.sql` joins them to the requested rows, and each
registered extra feature's own file adds its column.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.engines import queries
from offerrank.engines.base import FirstStage
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
    CONTRACT_FEATURES,
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


@contextmanager
def staged(
    con: duckdb.DuckDBPyConnection,
    query: pa.Table,
    params: dict[str, int],
    plan: str | None = None,
) -> Iterator[None]:
    """`query` registered as `query_pairs` and every stage built for it; dropped after."""
    if label_window_of(con) != params["label_window"]:
        build_impression_labels(con, params["label_window"])
    plan = plan or choose_plan(query)
    if plan == SINGLE_PLAN and len(pc.unique(query.column("as_of"))) > 1:
        raise ValueError("the single plan takes one as_of date; this batch has several")
    files = PLAN_FILES[plan]
    con.register(QUERY_TABLE, query)
    try:
        for stage in track(STAGES, "features"):
            build_table(con, files[stage], params, into=stage, view=stage in VIEW_STAGES)
        yield
    finally:
        con.execute(f"DROP TABLE IF EXISTS {queries.ALL_PAIRS}")
        for stage in reversed(STAGES):
            kind = "VIEW" if stage in VIEW_STAGES else "TABLE"
            con.execute(f"DROP {kind} IF EXISTS {stage}")
        con.unregister(QUERY_TABLE)


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
    query = query_pairs(pairs)
    with staged(con, query, params, plan):
        result = read_arrow(con, ASSEMBLY, params)
        extras = extra_features(con, feature_set, params, query.num_rows)
    return _in_input_order(query, result, extras, feature_set)


def ranked_pairs(
    con: duckdb.DuckDBPyConnection,
    pairs: pa.Table,
    first_stage: FirstStage,
    *,
    lookback_days: int = 90,
    label_window_days: int = 7,
) -> pa.Table:
    """customer_id, offer_id, as_of and `retrieval_rank` of every row of `pairs`: its rank
    by the first stage among the rows of the same customer and as_of."""
    params = check_parameters(lookback_days, label_window_days)
    query = query_pairs(pairs)
    with staged(con, query, params):
        _all_pairs(con, params)
        sql, bound = _first_stage(first_stage, queries.FIRST_STAGE_RANKED)
        return con.sql(
            f"SELECT customer_id, offer_id, as_of, retrieval_rank FROM ({sql}) AS r", params=bound
        ).to_arrow_table()


def pool_features(
    con: duckdb.DuckDBPyConnection,
    pairs: pa.Table,
    first_stage: FirstStage,
    per_customer: int,
    *,
    lookback_days: int = 90,
    label_window_days: int = 7,
    feature_set: FeatureSet = DEFAULT_FEATURES,
) -> pa.Table:
    """The retrieved pool of one day's eligible `pairs`: the best `per_customer` pairs of
    each customer by the first stage, with their features (`feature_schema`), the
    `first_stage` score and the `retrieval_rank`. The features of every eligible pair are
    computed once, in SQL; only the kept pairs leave it."""
    params = check_parameters(lookback_days, label_window_days)
    with staged(con, query_pairs(pairs), params, SINGLE_PLAN):
        _all_pairs(con, params)
        sql, bound = _first_stage(first_stage, queries.FIRST_STAGE_POOL)
        kept = con.sql(sql, params={**bound, "per_customer": per_customer}).to_arrow_table()
        # Numbered afresh (0..m-1): the extras run on the kept pairs and align by row_id.
        kept = kept.set_column(0, "row_id", pa.array(np.arange(kept.num_rows, dtype=np.int64)))
        extras: dict[str, pa.ChunkedArray] = {}
        if feature_set.extras:
            con.unregister(QUERY_TABLE)
            con.register(QUERY_TABLE, kept.select(["row_id", *KEY_COLUMNS]))
            extras = extra_features(con, feature_set, params, kept.num_rows)
    features = _in_input_order(kept, kept, extras, feature_set)
    return features.append_column("first_stage", kept.column("first_stage")).append_column(
        "retrieval_rank", kept.column("retrieval_rank")
    )


def _all_pairs(con: duckdb.DuckDBPyConnection, params: dict[str, int]) -> None:
    build_table(con, ASSEMBLY, params, into=queries.ALL_PAIRS)


def _first_stage(first_stage: FirstStage, template: str) -> tuple[str, dict[str, float]]:
    score, bound = queries.first_stage_score(
        CONTRACT_FEATURES, first_stage.weights, first_stage.bias
    )
    return template.format(score=score), bound


def extra_features(
    con: duckdb.DuckDBPyConnection, feature_set: FeatureSet, params: dict[str, int], n: int
) -> dict[str, pa.ChunkedArray]:
    """Each extra feature of the set by name, in row_id order of the current `query_pairs`
    (`n` rows): each file run once; ValueError unless a file gives one row per row_id."""
    out: dict[str, pa.ChunkedArray] = {}
    for (package, stem), features in feature_set.files().items():
        result = read_arrow(con, stem, params, package)
        ordered = ordered_by_row_id(result)
        row_id = ordered.column("row_id").to_numpy()
        if row_id.size != n or not np.array_equal(row_id, np.arange(row_id.size)):
            raise ValueError(
                f"{stem}.sql must return exactly one row per requested row_id"
                f" ({result.num_rows} rows for {n} requested)"
            )
        out.update({f.name: ordered.column(f.name).cast(pa.float64()) for f in features})
    return out


def _in_input_order(
    query: pa.Table,
    result: pa.Table,
    extras: dict[str, pa.ChunkedArray],
    feature_set: FeatureSet,
) -> pa.Table:
    """Keys straight from the input; features put back at their input position (row_id)."""
    core = [f.name for f in feature_set.features if f.sql is None]
    ordered = ordered_by_row_id(result.select(["row_id", *core]))
    columns = {name: ordered.column(name) for name in core}
    columns.update(extras)
    schema = feature_schema(feature_set)
    arrays = [query.column(c) for c in KEY_COLUMNS] + [columns[n] for n in feature_set.columns]
    return pa.Table.from_arrays(arrays, schema=schema)
