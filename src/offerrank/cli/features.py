"""`offerrank features`: the feature vector of given pairs, exactly as the ranker sees it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from offerrank.config import Settings
from offerrank.engines.base import SqlQuery
from offerrank.engines.registry import open_engine
from offerrank.errors import OfferrankError
from offerrank.features.registry import FEATURE_COLUMNS, constant_dates
from offerrank.ranking.retrieval import eligible_sql
from offerrank.store.db import query_arrow


def read_pairs(path: Path) -> pa.Table:
    try:
        table = pacsv.read_csv(path)
    except pa.ArrowInvalid as exc:
        raise OfferrankError(f"{path}: not a readable CSV ({exc})") from exc
    missing = {"customer_id", "offer_id"} - set(table.column_names)
    if missing:
        raise OfferrankError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    try:
        return table.select(["customer_id", "offer_id"]).cast(
            pa.schema([("customer_id", pa.int64()), ("offer_id", pa.int64())])
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise OfferrankError(f"{path}: customer_id and offer_id must be integers ({exc})") from exc


def write_features(settings: Settings, as_of: date, pairs_csv: Path | None, out: Path) -> int:
    """Compute features for the pairs (or every eligible pair of `as_of`) and write them as CSV."""
    engine = open_engine(settings)
    try:
        engine.load()
        if pairs_csv is not None:
            pairs = read_pairs(pairs_csv)
        else:
            everyone = query_arrow(settings.db_path, "SELECT customer_id FROM customers")
            pairs = engine.scoped_pairs(SqlQuery(eligible_sql(), {"as_of": as_of}), everyone)
        query = pairs.select(["customer_id", "offer_id"]).append_column(
            "as_of", constant_dates(as_of, pairs.num_rows)
        )
        feats = engine.features(query)
    finally:
        engine.close()
    table = feats.select(["customer_id", "offer_id", *FEATURE_COLUMNS])
    out.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, out)
    return table.num_rows
