"""Retrieve the day's candidate pool on the engine, and measure the rules' recall over the
recent mature days (reusing the days measured by earlier runs under the same rules)."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

from offerrank.engines.base import CandidatePool
from offerrank.pipeline.context import Run
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.load import Loaded
from offerrank.ranking.candidates import candidate_recall, retrieval_query, rules_key
from offerrank.store import outputs
from offerrank.store.outputs import RecallDay
from offerrank.training.dataset import last_mature_day


def known_recall_days(
    store: sqlite3.Connection, key: str, first: date, last: date
) -> dict[date, RecallDay]:
    """Days in [first, last] already measured under the rules `key`."""
    rows = store.execute(
        "SELECT shown_date, positives, hits FROM candidate_recall_days"
        " WHERE rules_key = ? AND shown_date BETWEEN ? AND ?",
        (key, first.isoformat(), last.isoformat()),
    ).fetchall()
    return {
        date.fromisoformat(d): RecallDay(date.fromisoformat(d), int(n), int(h)) for d, n, h in rows
    }


def candidates(run: Run, loaded: Loaded) -> Done[CandidatePool]:
    s = run.settings
    pool = run.engine.candidate_pool(retrieval_query(run.run_date, s))
    last = last_mature_day(run.run_date, s)
    first, key = last - timedelta(days=s.eval_days - 1), rules_key(s)
    known = known_recall_days(run.store, key, first, last)
    recall, positives, days = candidate_recall(run.engine, first, last, s, known)
    run.put_metrics(
        {
            "candidate_pool_size": pool.pairs,
            "customers_with_candidates": pool.customers,
            "candidate_recall": recall,
            "candidate_recall_positives": positives,
        }
    )
    with run.outputs() as con:
        outputs.save_recall_days(con, key, days)
    if loaded.facts.active_offers == 0:
        return Done(pool, "no active offers on this date: no candidates")
    recall_txt = "n/a" if recall is None else f"{recall:.3f} of {positives} recent positives"
    return Done(
        pool, f"{pool.pairs} pairs for {pool.customers} customers; candidate recall {recall_txt}"
    )
