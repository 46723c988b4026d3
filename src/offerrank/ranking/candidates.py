"""Candidate generation: cheap, high-recall retrieval of plausible (customer, offer) pairs.

The rules are documented in `sql/candidates.sql`; every engine runs that one file.
`candidate_recall` measures them: over recent mature days, the share of positive
impressions whose pair the rules would have produced on their shown date.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from functools import cache
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc

from offerrank.config import Settings
from offerrank.engines.base import Engine, SqlQuery, Window
from offerrank.progress import track
from offerrank.store.outputs import RecallDay


@cache
def candidates_sql() -> str:
    """The text of `sql/candidates.sql` (DuckDB dialect; Spark runs it transpiled)."""
    return resources.files("offerrank.ranking").joinpath("sql/candidates.sql").read_text()


def retrieval_query(as_of: date, settings: Settings) -> SqlQuery:
    """The candidate query of one day, with its parameters, for any engine."""
    return SqlQuery(
        candidates_sql(),
        {
            "as_of": as_of,
            "window_start": as_of - timedelta(days=settings.lookback_days),
            "popular_n": settings.popular_per_segment,
            "cold_n": settings.cold_start_offers,
            "max_per_customer": settings.max_candidates_per_customer,
        },
    )


def rules_key(settings: Settings) -> str:
    """Fingerprint of the candidate rules and the settings they read: a day measured under
    other rules must be measured again."""
    parts = [
        candidates_sql(),
        str(settings.lookback_days),
        str(settings.popular_per_segment),
        str(settings.cold_start_offers),
        str(settings.max_candidates_per_customer),
        str(settings.label_window_days),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def candidate_recall(
    engine: Engine,
    first: date,
    last: date,
    settings: Settings,
    known: dict[date, RecallDay] | None = None,
) -> tuple[float | None, int, list[RecallDay]]:
    """Share of positive impressions shown in [first, last] that the rules would retrieve.

    Runs the candidate rules once per shown date, scoped to the customers with a
    positive that day. A day's result depends only on data before it and on its mature
    labels, so consecutive runs share six of their seven days: `known` (measured earlier
    under the same `rules_key`) is reused for a day whose positive count is unchanged.
    Returns (recall or None without positives, number of positives, every day's result).
    """
    rows = engine.labelled_impressions(Window(first, last))
    positives = rows.filter(pc.equal(rows.column("label"), 1)).select(
        ["customer_id", "offer_id", "as_of"]
    )
    if positives.num_rows == 0:
        return None, 0, []
    per_day = positives.group_by("as_of").aggregate([("as_of", "count")]).sort_by("as_of")
    counts = dict(
        zip(
            per_day.column("as_of").to_pylist(),
            per_day.column("as_of_count").to_pylist(),
            strict=True,
        )
    )
    known = known or {}
    found = {d: known[d] for d, n in counts.items() if d in known and known[d].positives == n}
    todo = [d for d in counts if d not in found]
    for day in track(todo, "candidate recall", label=str):
        today = positives.filter(pc.equal(positives.column("as_of"), pa.scalar(day, pa.date32())))
        found[day] = RecallDay(day, counts[day], _hits(engine, today, day, settings))
    days = [found[d] for d in counts]
    total = sum(r.positives for r in days)
    return sum(r.hits for r in days) / total, total, days


def _hits(engine: Engine, positives: pa.Table, day: date, settings: Settings) -> int:
    """How many of the day's positives the rules retrieve (scoped to their customers)."""
    scope = pa.table({"customer_id": pc.unique(positives.column("customer_id"))})
    cands = engine.candidates(retrieval_query(day, settings), scope)
    pairs = cands.select(["customer_id", "offer_id"])
    return positives.join(pairs, keys=["customer_id", "offer_id"], join_type="inner").num_rows
