"""`offerrank features`: the feature vector of given pairs, exactly as the ranker sees it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from offerrank.config import Settings
from offerrank.errors import OfferrankError
from offerrank.features.compute import FEATURE_COLUMNS, compute_features
from offerrank.features.engine import open_engine
from offerrank.ranking.candidates import generate_candidates
from offerrank.ranking.rank import constant_dates


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
    """Compute features for the pairs (or every candidate of `as_of`) and write them as CSV."""
    con = open_engine(settings.db_path)
    try:
        if pairs_csv is not None:
            pairs = read_pairs(pairs_csv)
        else:
            pairs = generate_candidates(con, as_of, settings).select(["customer_id", "offer_id"])
        query = pairs.append_column("as_of", constant_dates(as_of, pairs.num_rows))
        feats = compute_features(
            con,
            query,
            lookback_days=settings.lookback_days,
            label_window_days=settings.label_window_days,
        )
    finally:
        con.close()
    table = feats.select(["customer_id", "offer_id", *FEATURE_COLUMNS])
    out.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, out)
    return table.num_rows
