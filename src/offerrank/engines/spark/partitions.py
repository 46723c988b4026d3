"""A function over each partition of customers, on the executors; its results, one
partition at a time, on the driver. Both scorers of the Spark engine (the grid and the
SQL pool) hand their rows to `process` this way.

Customers go to partitions by whole blocks of ids (`PARTITION_BLOCK`), so a function
sees all of a customer's rows at once; the hash is Spark's own (`xxhash64` of the
block), not `partition_of`'s, which changes which customers share a partition, never a
customer's result.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

from offerrank.engines.base import PARTITION_BLOCK
from offerrank.engines.spark.features import release

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

PARTITION = "partition"


def partition_column(partitions: int) -> Column:
    """The partition of each row's customer, 0 .. partitions - 1."""
    from pyspark.sql import functions as F

    block = F.floor(F.col("customer_id") / PARTITION_BLOCK)
    return F.pmod(F.xxhash64(block), F.lit(max(partitions, 1)))


def apply_by_partition(
    keyed: DataFrame, function: Callable[[pa.Table], pa.Table], schema: pa.Schema
) -> DataFrame:
    """`function` over each partition's rows of `keyed` (which has a `partition`
    column), its results (of `schema`) tagged with their partition and checkpointed:
    computed now, while whatever `keyed` reads still exists."""
    from pyspark.sql.pandas.types import from_arrow_schema

    def run(table: pa.Table) -> pa.Table:
        part = table.column(PARTITION)[0].as_py() if table.num_rows else 0
        out = function(table)
        return out.append_column(PARTITION, pa.repeat(pa.scalar(part, pa.int64()), out.num_rows))

    tagged = from_arrow_schema(schema.append(pa.field(PARTITION, pa.int64())))
    with warnings.catch_warnings():
        # PySpark warns about pandas 3 on every Arrow UDF; only Arrow crosses here.
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        grouped = keyed.groupBy(PARTITION).applyInArrow(run, schema=tagged)
        return grouped.localCheckpoint(eager=True)


def each_partition(result: DataFrame, partitions: int, schema: pa.Schema) -> Iterator[pa.Table]:
    """The rows of `apply_by_partition`'s result partition by partition, as `schema`;
    the result is released after the last."""
    from pyspark.sql import functions as F

    try:
        for p in range(max(partitions, 1)):
            part = result.filter(F.col(PARTITION) == p).drop(PARTITION).toArrow()
            yield part.cast(schema)
    finally:
        release(result)
