"""Candidate generation and its recall on Spark: `ranking/sql/candidates.sql`, transpiled.

Mirrors `offerrank.ranking.candidates` (same SQL text, same parameters, same per-day
recall with reuse of days measured earlier); only the engine differs.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from offerrank.config import Settings
from offerrank.ranking.candidates import RecallDay, _sql, candidate_params
from offerrank.spark.sql import run_sql

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SCOPE_VIEW = "candidate_scope"
POSITIVES_VIEW = "recall_positives"


def spark_candidates(
    spark: SparkSession, as_of: date, settings: Settings, customers: DataFrame | None = None
) -> DataFrame:
    """Candidate pairs for `as_of` (customer_id, offer_id, retrieval signals), lazily.

    `customers` (a DataFrame with customer_id) restricts the scope; default: all.
    """
    scope = customers if customers is not None else spark.sql("SELECT customer_id FROM customers")
    scope.createOrReplaceTempView(SCOPE_VIEW)
    return run_sql(spark, _sql(), candidate_params(as_of, settings))


def spark_candidate_recall(
    spark: SparkSession,
    first: date,
    last: date,
    settings: Settings,
    known: dict[date, RecallDay] | None = None,
) -> tuple[float | None, int, list[RecallDay]]:
    """ranking.candidates.candidate_recall on Spark; the same days, counts and reuse."""
    positives = spark.sql(
        "SELECT customer_id, offer_id, shown_date FROM impression_labels"
        " WHERE label = 1 AND shown_date BETWEEN :first AND :last",
        args={"first": first, "last": last},
    ).cache()
    positives.createOrReplaceTempView(POSITIVES_VIEW)
    try:
        per_day = [
            (row[0], int(row[1]))
            for row in positives.groupBy("shown_date").count().orderBy("shown_date").collect()
        ]
        if not per_day:
            return None, 0, []
        known = known or {}
        found = {d: known[d] for d, n in per_day if d in known and known[d].positives == n}
        for day, n in per_day:
            if day not in found:
                found[day] = RecallDay(day, n, _hits_on(spark, day, settings))
    finally:
        positives.unpersist()
        spark.catalog.dropTempView(POSITIVES_VIEW)
    days = [found[d] for d, _ in per_day]
    total = sum(r.positives for r in days)
    return sum(r.hits for r in days) / total, total, days


def _hits_on(spark: SparkSession, day: date, settings: Settings) -> int:
    """How many of the day's positives the rules retrieve (one Spark job)."""
    today = spark.sql(f"SELECT * FROM {POSITIVES_VIEW} WHERE shown_date = :day", args={"day": day})
    cands = spark_candidates(spark, day, settings, customers=today.select("customer_id").distinct())
    return today.join(cands, ["customer_id", "offer_id"]).count()
