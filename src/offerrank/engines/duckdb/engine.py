"""The DuckDB engine: the store's tables in an in-memory DuckDB, every step in-process.

The default engine. `load` reads the store once as Arrow (through the history cache when
it is on) and types it into DuckDB; features, retrieval and the pool run as SQL on that
connection, one partition of customers at a time, and the caller's `process` (scoring,
ranking, sampling) runs in this process on each partition's pool.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from offerrank.config import Settings
from offerrank.engines import queries
from offerrank.engines.base import FirstStage, Retrieval, partition_of
from offerrank.engines.common import SqlEngine
from offerrank.engines.duckdb.features import compute_features, pool_features, ranked_pairs
from offerrank.engines.duckdb.grid_inputs import grid_inputs
from offerrank.engines.duckdb.tables import load_tables
from offerrank.engines.grid import grid_pool, grid_supports
from offerrank.features.registry import DEFAULT_FEATURES, FeatureSet, constant_dates
from offerrank.store.history.tables import read_store_tables

# The grid scorer builds the day's customer tables for at most this many customers at a
# time: while they are built, those customers' lines of the lookback window are staged
# (about 300 lines and 20 kB a customer on `large`), so the group bounds that memory; each
# further group costs one more scan of the loaded lines.
GRID_STAGE_CUSTOMERS = 60_000


class DuckDBEngine(SqlEngine):
    name = "duckdb"

    def __init__(self, settings: Settings, con: duckdb.DuckDBPyConnection | None = None):
        self.settings = settings
        self.con = con if con is not None else duckdb.connect()
        if settings.duckdb_memory_limit:
            spill = settings.cache_dir or Path(tempfile.gettempdir())
            spill = spill / "duckdb-spill"
            spill.mkdir(parents=True, exist_ok=True)
            quoted = str(spill).replace("'", "''")  # a folder may hold a quote
            self.con.execute(f"SET temp_directory = '{quoted}'")
            self.con.execute("SET memory_limit = $limit", {"limit": settings.duckdb_memory_limit})

    @classmethod
    def from_tables(cls, settings: Settings, tables: dict[str, pa.Table]) -> DuckDBEngine:
        """An engine holding in-memory tables (tests, parity checks), labels built."""
        engine = cls(settings)
        load_tables(engine.con, tables, label_window_days=settings.label_window_days)
        return engine

    def load(self, since: date | None = None) -> None:
        s = self.settings
        tables = read_store_tables(Path(s.db_path), since=since, cache_dir=s.cache_dir)
        load_tables(self.con, tables, label_window_days=s.label_window_days, release=True)

    def _query(
        self, sql: str, params: Mapping[str, Any], inputs: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        inputs = inputs or {}
        for name, table in inputs.items():
            self.con.register(name, table)
        try:
            return self.con.sql(sql, params=dict(params) or None).to_arrow_table()
        finally:
            for name in inputs:
                self.con.unregister(name)

    def features(self, rows: pa.Table, feature_set: FeatureSet = DEFAULT_FEATURES) -> pa.Table:
        s = self.settings
        return compute_features(
            self.con,
            rows,
            lookback_days=s.lookback_days,
            label_window_days=s.label_window_days,
            feature_set=feature_set,
        )

    def _ranked(self, eligible: pa.Table, first_stage: FirstStage) -> pa.Table:
        s = self.settings
        return ranked_pairs(
            self.con,
            eligible,
            first_stage,
            lookback_days=s.lookback_days,
            label_window_days=s.label_window_days,
        )

    def pool_partitions(
        self,
        retrieval: Retrieval,
        partitions: int,
        process: Callable[[pa.Table], pa.Table],
    ) -> Iterator[pa.Table]:
        as_of = retrieval.eligible.params["as_of"]
        customers = np.unique(self.con.sql(queries.ALL_CUSTOMERS).fetchnumpy()["customer_id"])
        active = self.active_offers(as_of)
        grid = (
            self.settings.scorer == "grid"
            and grid_supports(retrieval.feature_set)
            and customers.size > 0
            and active.size > 0
        )
        if grid:
            yield from self._grid_partitions(retrieval, customers, active, partitions, process)
        else:
            yield from self._sql_partitions(retrieval, customers, partitions, process)

    def _grid_partitions(
        self,
        retrieval: Retrieval,
        customers: np.ndarray,
        active: np.ndarray,
        partitions: int,
        process: Callable[[pa.Table], pa.Table],
    ) -> Iterator[pa.Table]:
        """The pool by the grid scorer: the day's tables built for a group of partitions
        at a time (every customer, up to GRID_STAGE_CUSTOMERS), then each partition's pool
        chosen over customers x active offers in NumPy."""
        s = self.settings
        as_of = retrieval.eligible.params["as_of"]
        part = partition_of(customers, partitions)
        groups = max(1, math.ceil(customers.size / GRID_STAGE_CUSTOMERS))
        for g in range(groups):
            in_group = part % groups == g
            if not in_group.any():
                continue
            day, people = grid_inputs(
                self.con, as_of, customers[in_group], active,
                lookback_days=s.lookback_days, label_window_days=s.label_window_days,
                feature_set=retrieval.feature_set,
            )  # fmt: skip
            group_part = part[in_group]
            for p in range(g, max(partitions, 1), groups):
                mask = group_part == p
                if not mask.any():
                    continue
                yield process(
                    grid_pool(
                        day, people.subset(mask), retrieval.first_stage, retrieval.per_customer
                    )
                )

    def _sql_partitions(
        self,
        retrieval: Retrieval,
        customers: np.ndarray,
        partitions: int,
        process: Callable[[pa.Table], pa.Table],
    ) -> Iterator[pa.Table]:
        """The pool in SQL: every eligible pair of a partition featurised, then ranked."""
        s = self.settings
        as_of = retrieval.eligible.params["as_of"]
        part = partition_of(customers, partitions)
        for p in range(max(partitions, 1)):
            scope = pa.table({"customer_id": customers[part == p]})
            if scope.num_rows == 0:
                continue
            pairs = self.scoped_pairs(retrieval.eligible, scope)
            pairs = pairs.append_column("as_of", constant_dates(as_of, pairs.num_rows))
            pool = pool_features(
                self.con,
                pairs,
                retrieval.first_stage,
                retrieval.per_customer,
                lookback_days=s.lookback_days,
                label_window_days=s.label_window_days,
                feature_set=retrieval.feature_set,
            )
            yield process(pool)

    def close(self) -> None:
        self.con.close()
