"""The grid scorer on Spark: the day's tables by Spark SQL, the grid on the executors.

As on DuckDB (`engines.duckdb.grid_inputs`), the feature SQL runs once for a spec batch
(every customer with the first active offer, the first customer with every other active
offer), so no pair is featurised in SQL and the candidate pool never exists as a
DataFrame. The offers' side (a row per active offer) comes to the driver and ships with
the scoring function; the customers' side stays on the executors as one row per customer
(features, window figures, and the category, product and redemption lookups as list
columns), grouped by partition. Each group becomes `GridCustomers` there
(`engines.grid_tables`), the grid picks its pool, `process` scores and ranks it, and only
`process`'s result comes back to the driver, a partition at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.engines import queries
from offerrank.engines.base import Retrieval
from offerrank.engines.grid import (
    CUSTOMER_FEATURES,
    GridCustomers,
    GridDay,
    extra_names,
    grid_pool,
    pool_schema,
)
from offerrank.engines.grid_tables import Codes, customer_table, grain_extras, offer_table
from offerrank.engines.spark.features import assembled, number_pairs, release, staged
from offerrank.engines.spark.partitions import (
    PARTITION,
    apply_by_partition,
    each_partition,
    partition_column,
)
from offerrank.engines.spark.sql import run_sql
from offerrank.features.plans import SINGLE_PLAN, check_parameters
from offerrank.features.registry import FeatureSet

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

GRID_SCOPE = "grid_scope"
# The window figures of a customer (customer_window), as `grid_tables.customer_table` reads them.
WINDOW_COLUMNS = (
    "n_lines",
    "usual_discount",
    "tier1_purchase_ratio",
    "tier2_purchase_ratio",
    "tier3_purchase_ratio",
)
OFFER_KEYS = (
    "SELECT offer_id, product_id, category, price_tier, target_business_type"
    " FROM offer_keys ORDER BY offer_id"
)


def grid_partitions(
    spark: SparkSession,
    retrieval: Retrieval,
    active: np.ndarray,
    partitions: int,
    process: Callable[[pa.Table], pa.Table],
    *,
    lookback_days: int,
    label_window_days: int,
) -> Iterator[pa.Table]:
    """What `process` returns for each partition's grid pool (`Engine.pool_partitions`
    with the grid scorer): customers of a partition are whole id blocks, as ever."""
    from pyspark.sql import functions as F

    as_of: date = retrieval.eligible.params["as_of"]
    feature_set = retrieval.feature_set
    params = check_parameters(lookback_days, label_window_days)
    active = np.unique(np.asarray(active, dtype=np.int64))
    customers = spark.sql(queries.ALL_CUSTOMERS).select(
        F.col("customer_id").cast("bigint").alias("customer_id")
    )
    first = customers.agg(F.min("customer_id")).first()
    if first is None or first[0] is None or active.size == 0:
        return
    spec = _spec(spark, customers, int(first[0]), active, as_of)
    with staged(spark, number_pairs(spec), params, SINGLE_PLAN):
        rows = assembled(spark, feature_set, params).localCheckpoint(eager=True)
        customers.createOrReplaceTempView(GRID_SCOPE)
        try:
            day, codes = _day(spark, rows, int(first[0]), active, as_of, lookback_days, feature_set)
            packed = _packed(spark, rows, int(active[0]), as_of, feature_set)
            keyed = packed.withColumn(PARTITION, partition_column(partitions))
            sample = process(pool_schema(feature_set).empty_table())
            score = _scorer(day, codes, retrieval, process)
            result = apply_by_partition(keyed, score, sample.schema)
        finally:
            spark.catalog.dropTempView(GRID_SCOPE)
            release(rows)
    yield from each_partition(result, partitions, sample.schema)


def _spec(
    spark: SparkSession, customers: DataFrame, first: int, active: np.ndarray, as_of: date
) -> DataFrame:
    """Every customer with the first active offer, the first customer with every other."""
    from pyspark.sql import functions as F

    others = spark.createDataFrame(
        [(first, int(o)) for o in active[1:]], "customer_id BIGINT, offer_id BIGINT"
    )
    by_customer = customers.select(
        "customer_id", F.lit(int(active[0])).cast("bigint").alias("offer_id")
    )
    return by_customer.unionByName(others).withColumn("as_of", F.lit(as_of).cast("date"))


def _day(
    spark: SparkSession,
    rows: DataFrame,
    first: int,
    active: np.ndarray,
    as_of: date,
    lookback_days: int,
    feature_set: FeatureSet,
) -> tuple[GridDay, Codes]:
    """The offers' side on the driver: a row per active offer (small by nature)."""
    from pyspark.sql import functions as F

    offer_rows = rows.filter(F.col("customer_id") == first).toArrow().sort_by("offer_id")
    keys = run_sql(spark, OFFER_KEYS, {}).toArrow().sort_by("offer_id")
    names = extra_names(feature_set, "offer")
    values = {name: offer_rows.column(name).to_numpy() for name in names}
    extra = grain_extras(values, feature_set, "offer", active.size)
    offers, codes = offer_table(active, keys, offer_rows, extra)
    return GridDay(as_of, lookback_days, offers, feature_set), codes


def _packed(
    spark: SparkSession,
    rows: DataFrame,
    offer: int,
    as_of: date,
    feature_set: FeatureSet,
) -> DataFrame:
    """A row per customer: its features, its `people` and `window` figures (with a flag
    saying whether it has a row there; window figures prefixed, as some are features
    too), and its lookups as lists."""
    from pyspark.sql import functions as F

    customer = rows.filter(F.col("offer_id") == offer).select(
        "customer_id", *CUSTOMER_FEATURES, *extra_names(feature_set, "customer")
    )
    people = run_sql(spark, queries.GRID_CUSTOMERS, {"as_of": as_of}).select(
        "customer_id", "business_type", "eligible", F.lit(True).alias("has_people")
    )
    window = spark.table("customer_window").select(
        "customer_id",
        *[F.col(c).alias(f"window_{c}") for c in WINDOW_COLUMNS],
        F.lit(True).alias("has_window"),
    )
    category = (
        spark.table("category_window")
        .filter("n_lines > 0 AND category IS NOT NULL")
        .groupBy("customer_id")
        .agg(F.collect_list(F.struct("category", "n_lines", "last_day")).alias("categories"))
    )
    bought = (
        spark.table("product_window")
        .filter("n_lines > 0")
        .groupBy("customer_id")
        .agg(F.collect_list("product_id").alias("products"))
    )
    redeemed = (
        run_sql(spark, queries.GRID_REDEEMED, {"as_of": as_of})
        .groupBy("customer_id")
        .agg(F.collect_list("offer_id").alias("redeemed"))
    )
    packed = customer
    for side in (people, window, category, bought, redeemed):
        packed = packed.join(side, "customer_id", "left")
    return packed


def _scorer(
    day: GridDay, codes: Codes, retrieval: Retrieval, process: Callable[[pa.Table], pa.Table]
) -> Callable[[pa.Table], pa.Table]:
    """The function each partition's packed customers go through on an executor."""
    first_stage, per_customer = retrieval.first_stage, retrieval.per_customer

    def run(table: pa.Table) -> pa.Table:
        return process(grid_pool(day, unpacked(day, codes, table), first_stage, per_customer))

    return run


def unpacked(day: GridDay, codes: Codes, table: pa.Table) -> GridCustomers:
    """`GridCustomers` from a group of packed rows (`_packed`), customers in id order."""
    table = table.sort_by("customer_id")
    customers = table.column("customer_id").to_numpy().astype(np.int64)
    people = table.filter(pc.fill_null(table.column("has_people"), False)).select(
        ["customer_id", "business_type", "eligible"]
    )
    window = (
        table.filter(pc.fill_null(table.column("has_window"), False))
        .select(["customer_id", *[f"window_{c}" for c in WINDOW_COLUMNS]])
        .rename_columns(["customer_id", *WINDOW_COLUMNS])
    )
    categories, owner = _flat(table, "categories", customers)
    category = pa.table(
        {
            "customer_id": owner,
            "category": categories.field("category"),
            "n_lines": categories.field("n_lines"),
            "last_day": categories.field("last_day"),
        }
    )
    products, owner = _flat(table, "products", customers)
    bought = pa.table({"customer_id": owner, "product_id": products})
    offers, owner = _flat(table, "redeemed", customers)
    redeemed = pa.table({"customer_id": owner, "offer_id": offers})
    by_name = {n: table.column(n).to_numpy() for n in extra_names(day.feature_set, "customer")}
    extra = grain_extras(by_name, day.feature_set, "customer", customers.size)
    rows = table.select(["customer_id", *CUSTOMER_FEATURES])
    return customer_table(
        day, codes, customers, people, rows, window, category, bought, redeemed, extra
    )


def _flat(table: pa.Table, column: str, customers: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """The values of a list column one after another, and the customer each belongs to."""
    lists = table.column(column).combine_chunks()
    owner = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    return pc.list_flatten(lists), customers[owner]
