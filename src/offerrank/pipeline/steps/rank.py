"""Score every candidate on the engine, rank within each customer by the configured key,
choose the served top K and replace the date's recommendations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from offerrank.delivery.served import reason_codes
from offerrank.engines.base import CandidatePool, Scored
from offerrank.pipeline.context import Run
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.load import Loaded
from offerrank.pipeline.steps.train import Trained
from offerrank.ranking.margin import ranking_key, unit_margins
from offerrank.ranking.rank import rank_within_customer
from offerrank.ranking.serving import served_top_k
from offerrank.store import outputs


@dataclass(frozen=True)
class Ranked:
    """Every scored pair, its rank within its customer by the ranking key, and the
    served lists as written (customer_id, offer_id, rank, score, propensity)."""

    scored: Scored
    ranks: np.ndarray
    recommendations: pa.Table


def rank(run: Run, loaded: Loaded, trained: Trained, pool: CandidatePool) -> Done[Ranked]:
    s, model = run.settings, trained.model
    scored = run.engine.score(pool, model.model)
    cust = scored.features.column("customer_id").to_numpy()
    offer = scored.features.column("offer_id").to_numpy()
    margin = unit_margins(run.engine, offer) if s.rank_by == "expected_margin" else None
    key = ranking_key(scored.scores, margin, s.rank_by)
    ranks = rank_within_customer(cust, offer, key)
    served = served_top_k(cust, offer, scored.scores, key, s, run.run_date, rank=ranks)
    n = served.num_rows
    recs = served.append_column(
        "run_date", pa.repeat(pa.scalar(run.day, pa.string()), n)
    ).append_column("model_version", pa.repeat(pa.scalar(model.version, pa.string()), n))
    codes, seconds = reason_codes(run.store, model.model, scored, served, ranks, s.top_k)
    recs = recs.append_column("reason_codes", codes)
    customers = len(np.unique(served.column("customer_id").to_numpy())) if n else 0
    run.put_metrics(
        {
            "recommendations_written": n,
            "customers_with_recommendations": customers,
            "top_k": s.top_k,
            "duration_reasons_s": seconds,
        }
    )
    with run.outputs() as con:
        outputs.replace_recommendations(con, run.day, recs)
    ranked = Ranked(scored, ranks, served)
    if loaded.facts.active_offers == 0:
        return Done(ranked, "no active offers on this date: 0 recommendations written")
    return Done(ranked, f"{n} recommendations for {customers} customers (model {model.version})")
