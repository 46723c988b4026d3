"""Candidate generation: cheap, high-recall retrieval of plausible (customer, offer) pairs.

The rules are documented in `sql/candidates.sql`. `candidate_recall` measures them: over
recent mature days, the share of positive impressions whose pair the rules would have
produced on their shown date.
"""

from __future__ import annotations

from datetime import date, timedelta
from importlib import resources

import duckdb
import pyarrow as pa

from offerrank.config import Settings


def _sql() -> str:
    return resources.files("offerrank.ranking").joinpath("sql/candidates.sql").read_text()


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
        return con.sql(
            _sql(),
            params={
                "as_of": as_of,
                "window_start": as_of - timedelta(days=settings.lookback_days),
                "popular_n": settings.popular_per_segment,
                "cold_n": settings.cold_start_offers,
                "max_per_customer": settings.max_candidates_per_customer,
            },
        ).to_arrow_table()
    finally:
        con.unregister("candidate_scope")


def candidate_recall(
    con: duckdb.DuckDBPyConnection, first: date, last: date, settings: Settings
) -> tuple[float | None, int]:
    """Share of positive impressions shown in [first, last] that the rules would retrieve.

    Runs the candidate rules once per shown date, scoped to the customers with a
    positive that day. Returns (recall, number of positives); recall is None without any.
    """
    positives = con.sql(
        "SELECT customer_id, offer_id, shown_date FROM impression_labels"
        " WHERE label = 1 AND shown_date BETWEEN ? AND ?",
        params=[first, last],
    ).to_arrow_table()
    if positives.num_rows == 0:
        return None, 0
    con.register("recall_positives", positives)
    try:
        hits = 0
        for (day,) in con.sql(
            "SELECT DISTINCT shown_date FROM recall_positives ORDER BY 1"
        ).fetchall():
            scope = con.sql(
                "SELECT DISTINCT customer_id FROM recall_positives WHERE shown_date = ?",
                params=[day],
            ).to_arrow_table()
            cands = generate_candidates(con, day, settings, customers=scope)
            con.register("recall_cands", cands)
            hits += con.sql(
                "SELECT COUNT(*) FROM recall_positives p JOIN recall_cands c"
                " ON c.customer_id = p.customer_id AND c.offer_id = p.offer_id"
                " WHERE p.shown_date = ?",
                params=[day],
            ).fetchall()[0][0]
            con.unregister("recall_cands")
    finally:
        con.unregister("recall_positives")
    return hits / positives.num_rows, positives.num_rows
