"""Retrieval for the day: the model's first stage and pool size, and the recall they keep
on the newest mature days (reusing the days measured by earlier runs under the same
retrieval)."""

from __future__ import annotations

from datetime import timedelta

from offerrank.engines.base import Retrieval, Window
from offerrank.pipeline.context import Run
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.train import Trained
from offerrank.ranking.retrieval import candidate_recall, retrieval_of, retrieval_query, rules_key
from offerrank.store.read import monitoring
from offerrank.store.results import outputs
from offerrank.training.dataset import last_mature_day


def candidates(run: Run, trained: Trained) -> Done[Retrieval]:
    s = run.settings
    found = retrieval_of(trained.model.sidecar)
    assert found is not None, "a model without retrieval is retrained by the plan"
    first_stage, per_customer = found
    retrieval = retrieval_query(run.run_date, first_stage, per_customer, trained.model.features)
    last = last_mature_day(run.run_date, s)
    window = Window(last - timedelta(days=s.eval_days - 1), last)
    key = rules_key(first_stage, per_customer, s)
    known = monitoring.recall_days(run.store, key, window.first, window.last)
    recall, positives, days = candidate_recall(run.engine, window, first_stage, per_customer, known)
    run.put_metrics(
        {
            "retrieval_per_customer": per_customer,
            "candidate_recall": recall,
            "candidate_recall_positives": positives,
        }
    )
    with run.outputs() as con:
        outputs.save_recall_days(con, key, days)
    recall_txt = "n/a" if recall is None else f"{recall:.3f} of {positives} recent positives"
    if recall is not None and recall < s.candidate_recall_warning:
        run.notes.append(
            f"warning: candidate recall {recall:.3f} is below {s.candidate_recall_warning}"
            f" (candidate_recall_warning): retrieval keeps {per_customer} pairs a customer"
            f" (max_candidates_per_customer {s.max_candidates_per_customer})"
        )
    return Done(
        retrieval,
        f"up to {per_customer} of each customer's eligible offers, by the first stage of"
        f" {trained.model.version}; candidate recall {recall_txt}",
    )
