"""Candidate generation: cheap, high-recall retrieval of plausible (customer, offer) pairs.

The rules are documented in `sql/candidates.sql`. `candidate_recall` measures them: over
recent mature days, the share of positive impressions whose pair the rules would have
produced on their shown date.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources

import duckdb
import pyarrow as pa

from offerrank.config import Settings
from offerrank.progress import track


def _sql() -> str:
    return resources.files("offerrank.ranking").joinpath("sql/candidates.sql").read_text()


def candidate_params(as_of: date, settings: Settings) -> dict[str, object]:
    """The parameters of `sql/candidates.sql` for one day, for either engine."""
    return {
        "as_of": as_of,
        "window_start": as_of - timedelta(days=settings.lookback_days),
        "popular_n": settings.popular_per_segment,
        "cold_n": settings.cold_start_offers,
        "max_per_customer": settings.max_candidates_per_customer,
    }


def generate_candidates(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    settings: Settings,
    customers: pa.Table | None = None,
) -> pa.Table:
    """Candidate pairs for `as_of` (customer_id, offer_id, and the retrieval signals).

    `customers` (a one-column table of customer_id) restricts the scope; default: all.
    """
    scope = (
        customers
        if customers is not None
        else con.sql("SELECT customer_id FROM customers").to_arrow_table()
    )
    con.register("candidate_scope", scope)
    try:
        return con.sql(_sql(), params=candidate_params(as_of, settings)).to_arrow_table()
    finally:
        con.unregister("candidate_scope")


@dataclass(frozen=True)
class RecallDay:
    """The candidate rules measured on one shown date: its positives and how many were hit."""

    shown_date: date
    positives: int
    hits: int


def rules_key(settings: Settings) -> str:
    """Fingerprint of the candidate rules and the settings they read: a day measured under
    other rules must be measured again."""
    parts = [
        _sql(),
        str(settings.lookback_days),
        str(settings.popular_per_segment),
        str(settings.cold_start_offers),
        str(settings.max_candidates_per_customer),
        str(settings.label_window_days),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def candidate_recall(
    con: duckdb.DuckDBPyConnection,
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
    positives = con.sql(
        "SELECT customer_id, offer_id, shown_date FROM impression_labels"
        " WHERE label = 1 AND shown_date BETWEEN ? AND ?",
        params=[first, last],
    ).to_arrow_table()
    if positives.num_rows == 0:
        return None, 0, []
    con.register("recall_positives", positives)
    try:
        per_day = con.sql(
            "SELECT shown_date, COUNT(*) FROM recall_positives GROUP BY 1 ORDER BY 1"
        ).fetchall()
        known = known or {}
        found = {d: known[d] for d, n in per_day if d in known and known[d].positives == n}
        todo = [(d, n) for d, n in per_day if d not in found]
        for day, n in track(todo, "candidate recall", label=lambda row: row[0]):
            found[day] = RecallDay(day, n, _hits_on(con, day, settings))
    finally:
        con.unregister("recall_positives")
    days = [found[d] for d, _ in per_day]
    total = sum(r.positives for r in days)
    return sum(r.hits for r in days) / total, total, days


def _hits_on(con: duckdb.DuckDBPyConnection, day: date, settings: Settings) -> int:
    """How many of the day's positives (in `recall_positives`) the rules retrieve."""
    scope = con.sql(
        "SELECT DISTINCT customer_id FROM recall_positives WHERE shown_date = ?", params=[day]
    ).to_arrow_table()
    cands = generate_candidates(con, day, settings, customers=scope)
    con.register("recall_cands", cands)
    try:
        hits: int = con.sql(
            "SELECT COUNT(*) FROM recall_positives p JOIN recall_cands c"
            " ON c.customer_id = p.customer_id AND c.offer_id = p.offer_id"
            " WHERE p.shown_date = ?",
            params=[day],
        ).fetchall()[0][0]
    finally:
        con.unregister("recall_cands")
    return hits
