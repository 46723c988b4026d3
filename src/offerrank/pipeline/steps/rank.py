"""Score, rank and serve the day's pool partition by partition of customers, writing the
served lists as they come (one transaction for the date) and keeping bounded samples for
the explain and drift steps."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.config import Settings
from offerrank.delivery.attribution import LeafTables, leaf_tables_of
from offerrank.engines.base import Engine, Retrieval
from offerrank.monitoring.metrics_lists import diversity_mean, diversity_terms
from offerrank.pipeline.calibration import DailyShift, EvaluationSet, daily_shift
from offerrank.pipeline.context import Run
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.load import Loaded
from offerrank.pipeline.steps.train import Trained
from offerrank.progress import progress_task
from offerrank.ranking import samples
from offerrank.ranking.partition import (
    REC,
    PartitionStats,
    RankJob,
    partition_stats,
    rank_partition,
)
from offerrank.store.results import outputs
from offerrank.training.calibration import shifted
from offerrank.training.models import Ranker


@dataclass(frozen=True)
class Ranked:
    """What the later steps need of the day's ranking: the samples of scored pairs
    (explain, drift), the lists' size and quality, the calibration shift and the
    evaluation window's impressions it was fitted on (evaluate)."""

    samples: samples.Samples
    pool_pairs: int
    recommendations: int
    list_quality: dict[str, float | None]
    shift: DailyShift
    evaluation: EvaluationSet | None


def partitions_for(run: Run, loaded: Loaded) -> int:
    """The configured number of partitions, or enough that each holds about
    `partition_pairs` eligible pairs (customers x active offers, an upper bound)."""
    s = run.settings
    if s.partitions:
        return s.partitions
    pairs = loaded.facts.eligible_customers * loaded.facts.active_offers
    return max(1, math.ceil(pairs / s.partition_pairs))


def rank_job(
    engine: Engine,
    model: Ranker,
    settings: Settings,
    run_date: date,
    shift: float,
    columns: tuple[str, ...],
    leaves: LeafTables | None,
) -> RankJob:
    """What `rank_partition` needs for the date: `model` at the day's calibration `shift`,
    the active offers with their unit margins and targets, the samples' sizes, the leaf
    tables of the reasons and the model's feature `columns`."""
    s = settings
    active = engine.active_offers(run_date)
    facts = engine.offer_facts(active)
    margins = facts.column("unit_margin").to_numpy(zero_copy_only=False)
    targeted = active[facts.column("targeted").to_numpy(zero_copy_only=False)]
    sizes = samples.SampleSizes(
        s.explain_sample, samples.IMPORTANCE_SAMPLE, s.drift_sample, s.top_k
    )
    return RankJob(
        shifted(model, shift), s, run_date, sizes, active, margins.astype(np.float64),
        targeted, leaves, columns,
    )  # fmt: skip


def rank(run: Run, loaded: Loaded, trained: Trained, retrieval: Retrieval) -> Done[Ranked]:
    s, model, engine = run.settings, trained.model, run.engine
    compiled = model.model.compile(s.models_dir / model.version)
    if compiled:
        run.notes.append(compiled)
    # Scores at the redemption rate of the newest mature week (`pipeline/calibration.py`).
    shift, evaluation = daily_shift(run, model)
    run.put_metrics({"calibration_shift_served": shift.served})
    job = rank_job(
        engine, model.model, s, run.run_date, shift.served, retrieval.feature_set.columns,
        leaf_tables_of(model.model),
    )  # fmt: skip
    sizes, active = job.sizes, job.margin_offers  # the day's active offers
    parts = partitions_for(run, loaded)
    kept: dict[str, list[pa.Table]] = {kind: [] for kind in samples.SAMPLE_KINDS}
    stats, written = PartitionStats(0, 0.0), 0
    offers: set[int] = set()
    div_terms: list[np.ndarray] = []
    customers_served = 0
    with run.outputs() as con, progress_task("scoring", total=parts) as advance:
        outputs.clear_recommendations(con, run.day)
        for i, out in enumerate(
            engine.pool_partitions(retrieval, parts, partial(rank_partition, job=job))
        ):
            advance(1, f"partition {i + 1} of {parts}")
            kind = out.column("kind")
            recs = out.filter(pc.equal(kind, REC))
            stats += partition_stats(out)
            written += recs.num_rows
            outputs.append_recommendations(con, run.day, model.version, recs)
            offers.update(recs.column("offer_id").to_pylist())
            customers = recs.column("customer_id").to_numpy()
            customers_served += len(np.unique(customers))
            if customers.size:
                cats = engine.offer_facts(recs.column("offer_id").to_numpy()).column("category")
                div_terms.append(diversity_terms(customers, cats.to_numpy(zero_copy_only=False)))
            for k in samples.SAMPLE_KINDS:
                kept[k] = [samples.bounded([*kept[k], out.filter(pc.equal(kind, k))], k, sizes)]
        run.put_metrics(
            {
                "candidate_pool_size": stats.pairs,
                "customers_with_candidates": customers_served,
                "recommendations_written": written,
                "customers_with_recommendations": customers_served,
                "top_k": s.top_k,
                "partitions": parts,
                "duration_reasons_s": stats.reasons_seconds,
            }
        )
    chosen = samples.select({k: v[0] for k, v in kept.items()}, sizes)
    quality = {
        "coverage": len(offers) / len(active) if len(active) else None,
        "diversity": diversity_mean(div_terms),
    }
    ranked = Ranked(chosen, stats.pairs, written, quality, shift, evaluation)
    if loaded.facts.active_offers == 0:
        return Done(ranked, "no active offers on this date: 0 recommendations written")
    return Done(
        ranked,
        f"{written} recommendations for {customers_served} customers from {stats.pairs} candidate"
        f" pairs in {parts} partition{'s' if parts > 1 else ''} (model {model.version})",
    )
