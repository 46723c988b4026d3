"""The engine operations that are one shared SQL statement: written once, for any engine
that can run a statement over its tables and a few Arrow inputs (`SqlEngine._query`)."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.engines import queries
from offerrank.engines.base import FirstStage, SqlQuery, StoreFacts, Window
from offerrank.features.registry import constant_dates


class SqlEngine(ABC):
    """Facts, labelled impressions, offer attributes and scoped pair queries, by shared SQL."""

    ROW_HASH = "hash"  # the engine's 64-bit hash of a row of values, for `inputs_digest`
    # In-process: slices of four weeks keep the staged lines (and memory) small.
    feature_chunk_days = 28

    @abstractmethod
    def _query(
        self, sql: str, params: Mapping[str, Any], inputs: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        """Run one statement (DuckDB dialect, `$name` parameters) with `inputs` registered
        as tables under their names for its duration; the result, collected as Arrow."""

    def facts(self, as_of: date) -> StoreFacts:
        first = self._query(queries.FIRST_ORDER, {}).column("first_order")[0].as_py()
        eligible = self._query(queries.ELIGIBLE_CUSTOMERS, {"as_of": as_of}).column("n")
        return StoreFacts(
            first_order=first,
            active_offers=len(self.active_offers(as_of)),
            eligible_customers=int(eligible[0].as_py()),
        )

    def active_offers(self, as_of: date) -> np.ndarray:
        rows = self._query(queries.ACTIVE_OFFERS, {"as_of": as_of})
        return rows.column("offer_id").to_numpy().astype(np.int64)

    def labelled_impressions(self, window: Window) -> pa.Table:
        rows = self._query(
            queries.LABELLED_IMPRESSIONS, {"first": window.first, "last": window.last}
        )
        return rows.cast(LABELLED_SCHEMA)

    def unit_costs(self) -> dict[str, float]:
        row = self._query(queries.UNIT_COSTS, {}).to_pylist()[0]
        return {k: float(v) if v is not None else 0.0 for k, v in row.items()}

    def positives_by_day(self, window: Window) -> pa.Table:
        rows = self._query(queries.POSITIVES_BY_DAY, {"first": window.first, "last": window.last})
        return rows.cast(pa.schema([("shown_date", pa.date32()), ("positives", pa.int64())]))

    def offer_facts(self, offer_ids: np.ndarray) -> pa.Table:
        ids = np.asarray(offer_ids, dtype=np.int64)
        query = pa.table({"row_id": np.arange(ids.size, dtype=np.int64), "offer_id": ids})
        rows = self._query(queries.OFFER_FACTS, {}, {"offer_query": query})
        return rows.cast(OFFER_FACTS_SCHEMA)

    def inputs_digest(self, first_order: date, last: date, last_label: date) -> str:
        rows = self._query(
            queries.EVALUATION_INPUTS.format(hash=self.ROW_HASH),
            {"first_order": first_order, "last": last, "last_label": last_label},
        )
        parts = sorted(zip(*(rows.column(c).to_pylist() for c in ("t", "n", "h")), strict=True))
        return hashlib.sha256(repr(parts).encode()).hexdigest()

    def scoped_pairs(self, query: SqlQuery, scope: pa.Table) -> pa.Table:
        scope = scope.select(["customer_id"]).cast(pa.schema([("customer_id", pa.int64())]))
        return self._query(query.sql, query.params, {"candidate_scope": scope})

    @abstractmethod
    def _ranked(self, eligible: pa.Table, first_stage: FirstStage) -> pa.Table:
        """customer_id, offer_id, as_of and retrieval_rank of every eligible row."""

    def retrieval_ranks(
        self, pairs: pa.Table, eligible_sql: str, first_stage: FirstStage
    ) -> np.ndarray:
        parts = []
        days = pairs.column("as_of")
        for day in sorted(set(days.to_pylist())):
            today = pairs.filter(pc.equal(days, pa.scalar(day, pa.date32())))
            scope = pa.table({"customer_id": pc.unique(today.column("customer_id"))})
            found = self.scoped_pairs(SqlQuery(eligible_sql, {"as_of": day}), scope)
            parts.append(found.append_column("as_of", constant_dates(day, found.num_rows)))
        if not parts or sum(p.num_rows for p in parts) == 0:
            return np.zeros(pairs.num_rows, dtype=np.int64)
        ranked = self._ranked(pa.concat_tables(parts), first_stage)
        keys = ["customer_id", "offer_id", "as_of"]
        asked = pairs.select(keys).append_column(
            "position", pa.array(np.arange(pairs.num_rows, dtype=np.int64))
        )
        found = asked.join(
            ranked.select([*keys, "retrieval_rank"]), keys=keys, join_type="left outer"
        )
        ranks = np.zeros(pairs.num_rows, dtype=np.int64)
        rank = found.column("retrieval_rank").to_numpy(zero_copy_only=False)
        ranks[found.column("position").to_numpy()] = np.nan_to_num(rank, nan=0).astype(np.int64)
        return ranks


LABELLED_SCHEMA = pa.schema(
    [
        ("impression_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("offer_id", pa.int64()),
        ("as_of", pa.date32()),
        ("label", pa.int32()),
    ]
)
OFFER_FACTS_SCHEMA = pa.schema(
    [
        ("offer_id", pa.int64()),
        ("category", pa.string()),
        ("unit_margin", pa.float64()),
        ("targeted", pa.bool_()),
    ]
)
