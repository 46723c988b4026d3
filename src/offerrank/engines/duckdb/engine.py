"""The DuckDB engine: the store's tables in an in-memory DuckDB, every step in-process.

The default engine. `load` reads the store once as Arrow (through the history cache when
it is on) and types it into DuckDB; features, candidates and scoring then run as SQL on
that connection, and the model scores the features in this process.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from offerrank.config import Settings
from offerrank.engines import queries
from offerrank.engines.base import CandidatePool, Scored, Scorer, SqlQuery
from offerrank.engines.common import SqlEngine
from offerrank.engines.duckdb.features import compute_features
from offerrank.engines.duckdb.tables import load_tables
from offerrank.features.registry import DEFAULT_FEATURES, FeatureSet, feature_matrix
from offerrank.progress import progress_task
from offerrank.store.tables import read_store_tables

POOL_TABLE = "run_candidates"
SCORE_CHUNK_ROWS = 200_000


class DuckDBEngine(SqlEngine):
    name = "duckdb"

    def __init__(self, settings: Settings, con: duckdb.DuckDBPyConnection | None = None):
        self.settings = settings
        self.con = con if con is not None else duckdb.connect()

    @classmethod
    def from_tables(cls, settings: Settings, tables: dict[str, pa.Table]) -> DuckDBEngine:
        """An engine holding in-memory tables (tests, parity checks), labels built."""
        engine = cls(settings)
        load_tables(engine.con, tables, label_window_days=settings.label_window_days)
        return engine

    def load(self, since: date | None = None) -> None:
        s = self.settings
        tables = read_store_tables(Path(s.db_path), since=since, cache_dir=s.cache_dir)
        load_tables(self.con, tables, label_window_days=s.label_window_days)

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

    def candidate_pool(self, query: SqlQuery) -> CandidatePool:
        scope = self.con.sql(queries.ALL_CUSTOMERS).to_arrow_table()
        self.con.register("candidate_scope", scope)
        try:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {POOL_TABLE} AS {query.sql}", query.params
            )
        finally:
            self.con.unregister("candidate_scope")
        [(pairs, customers)] = self.con.execute(
            queries.POOL_COUNTS.format(pool=POOL_TABLE)
        ).fetchall()
        return CandidatePool(POOL_TABLE, query.params["as_of"], int(pairs), int(customers))

    def score(self, pool: CandidatePool, model: Scorer) -> Scored:
        rows = self.con.sql(
            queries.POOL_PAIRS.format(pool=pool.name) + " ORDER BY customer_id, offer_id",
            params={"as_of": pool.as_of},
        ).to_arrow_table()
        feats = self.features(rows)
        X = feature_matrix(feats)
        return Scored(feats, X, predict_in_chunks(model, X))

    def close(self) -> None:
        self.con.close()


def predict_in_chunks(
    model: Scorer, X: np.ndarray, chunk_rows: int = SCORE_CHUNK_ROWS
) -> np.ndarray:
    """model.predict_proba over blocks of rows, one progress tick per block.

    Every row's score depends on that row alone, so the scores equal one call's; the
    blocks only let a long scoring show progress (and bound the temporary copies).
    """
    n = X.shape[0]
    scores = np.empty(n, dtype=np.float64)
    with progress_task("scoring", total=n) as advance:
        for lo in range(0, n, chunk_rows):
            hi = min(lo + chunk_rows, n)
            scores[lo:hi] = model.predict_proba(X[lo:hi])
            advance(hi - lo)
    return scores
