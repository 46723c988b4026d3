"""Retrieval that keeps the redemptions: a learned first stage, sized by the recall it reaches.

Every eligible pair of a day (`sql/eligible_pairs.sql`: the customer signed up, the offer
active and targeted at the customer's type, not redeemed before) is scored in SQL by a
linear first stage, the logistic regression trained beside the ranker (its coefficients
over the standardised features, folded into one weight per feature). Each customer keeps
the `per_customer` pairs it scores highest; the ranker then scores only those.

`per_customer` is measured, not guessed: when a model is trained, the positives of its
validation days are ranked by the first stage among their customer's eligible pairs of
their day, and `per_customer` is the smallest number that keeps `candidate_recall_target`
of them (at least `top_k`, at most `max_candidates_per_customer`). Candidate recall is
then reported every day on the newest mature days, and a run below
`candidate_recall_warning` says so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.config import Settings
from offerrank.engines.base import Engine, FirstStage, Retrieval, SqlQuery, Window
from offerrank.features.registry import DEFAULT_FEATURES, FeatureSet
from offerrank.progress import progress_task
from offerrank.store.results.outputs import RecallDay


@cache
def eligible_sql() -> str:
    """The text of `sql/eligible_pairs.sql` (DuckDB dialect; Spark runs it transpiled)."""
    return resources.files("offerrank.ranking").joinpath("sql/eligible_pairs.sql").read_text()


@cache
def popular_candidates_sql() -> str:
    """`sql/popular_candidates.sql`: every eligible pair with its segment popularity rank."""
    return resources.files("offerrank.ranking").joinpath("sql/popular_candidates.sql").read_text()


def first_stage_of(
    mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float
) -> FirstStage:
    """A standardised logistic regression folded into one weight per raw feature."""
    weights = np.asarray(coef, dtype=np.float64) / np.asarray(scale, dtype=np.float64)
    bias = float(intercept - np.sum(weights * np.asarray(mean, dtype=np.float64)))
    return FirstStage(tuple(float(w) for w in weights), bias)


@dataclass(frozen=True)
class Sizing:
    """How many pairs per customer retrieval keeps, and the recall that keeps on the
    positives it was measured on."""

    per_customer: int
    target: float
    recall: float | None
    positives: int
    curve: dict[int, float]  # recall at a few sizes, for the report

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "curve": {str(k): v for k, v in self.curve.items()}}


CURVE_SIZES = (10, 20, 40, 60, 80, 100, 150, 200, 300, 400)


def size_from_ranks(ranks: np.ndarray, settings: Settings) -> Sizing:
    """The smallest per-customer size that keeps `candidate_recall_target` of the positives
    whose first-stage ranks are `ranks` (0: not eligible, never retrievable)."""
    floor, ceiling = settings.top_k, max(settings.top_k, settings.max_candidates_per_customer)
    target = settings.candidate_recall_target
    ranks = np.asarray(ranks, dtype=np.int64)
    if ranks.size == 0:
        return Sizing(ceiling, target, None, 0, {})
    found = np.sort(ranks[ranks > 0])
    needed = int(np.ceil(target * ranks.size))  # positives that must fall within the size
    size = ceiling if needed > found.size else int(found[needed - 1]) if needed else floor
    size = int(np.clip(size, floor, ceiling))
    curve = {n: float(np.mean((ranks > 0) & (ranks <= n))) for n in CURVE_SIZES}
    recall = float(np.mean((ranks > 0) & (ranks <= size)))
    return Sizing(size, target, recall, int(ranks.size), curve)


def positives_of(engine: Engine, window: Window) -> pa.Table:
    """customer_id, offer_id, as_of of the positive impressions shown in `window`."""
    rows = engine.labelled_impressions(window)
    return rows.filter(pc.equal(rows.column("label"), 1)).select(
        ["customer_id", "offer_id", "as_of"]
    )


def size_retrieval(
    engine: Engine, window: Window, first_stage: FirstStage, settings: Settings
) -> Sizing:
    """Size the first stage's pool on the positives shown in `window`."""
    positives = positives_of(engine, window)
    with progress_task("retrieval sizing", total=1) as advance:
        ranks = engine.retrieval_ranks(positives, eligible_sql(), first_stage)
        advance()
    return size_from_ranks(ranks, settings)


def retrieval_of(sidecar: dict[str, Any]) -> tuple[FirstStage, int] | None:
    """The first stage and pool size a model carries (None for a model trained before
    learned retrieval existed: it must be retrained)."""
    found = sidecar.get("retrieval")
    if not found:
        return None
    stage = FirstStage(tuple(found["weights"]), float(found["bias"]))
    return stage, int(found["per_customer"])


def retrieval_sidecar(first_stage: FirstStage, sizing: Sizing) -> dict[str, Any]:
    return {
        "weights": list(first_stage.weights),
        "bias": first_stage.bias,
        "per_customer": sizing.per_customer,
        "sizing": sizing.as_json(),
    }


def retrieval_query(
    as_of: date,
    first_stage: FirstStage,
    per_customer: int,
    feature_set: FeatureSet = DEFAULT_FEATURES,
) -> Retrieval:
    """The day's retrieval, its pool carrying `feature_set` (the serving model's)."""
    return Retrieval(
        SqlQuery(eligible_sql(), {"as_of": as_of}), first_stage, per_customer, feature_set
    )


def rules_key(first_stage: FirstStage, per_customer: int, settings: Settings) -> str:
    """Fingerprint of everything a day's measured recall depends on besides its data: the
    eligibility rules, the first stage, the size, and the settings the features read."""
    parts = [
        eligible_sql(),
        json.dumps([first_stage.weights, first_stage.bias, per_customer]),
        str(settings.lookback_days),
        str(settings.label_window_days),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def candidate_recall(
    engine: Engine,
    window: Window,
    first_stage: FirstStage,
    per_customer: int,
    known: dict[date, RecallDay] | None = None,
) -> tuple[float | None, int, list[RecallDay]]:
    """Share of the positive impressions shown in `window` whose pair retrieval keeps on
    their shown date. A day's result depends only on data before it and on its mature
    labels, so consecutive runs share six of their seven days: `known` (measured earlier
    under the same `rules_key`) is reused for a day whose positive count is unchanged.
    Returns (recall or None without positives, number of positives, every day's result)."""
    positives = positives_of(engine, window)
    if positives.num_rows == 0:
        return None, 0, []
    per_day = positives.group_by("as_of").aggregate([("as_of", "count")]).sort_by("as_of")
    days, sizes = per_day.column("as_of").to_pylist(), per_day.column("as_of_count").to_pylist()
    counts = dict(zip(days, sizes, strict=True))
    known = known or {}
    found = {d: known[d] for d, n in counts.items() if d in known and known[d].positives == n}
    todo = [d for d in counts if d not in found]
    if todo:
        # Every day still to measure in one call: an engine builds the feature stages
        # once for all of them (a day's ranks do not depend on the other days asked).
        on = positives.column("as_of")
        asked = positives.filter(pc.is_in(on, value_set=pa.array(todo, pa.date32())))
        with progress_task("candidate recall", total=len(todo)) as advance:
            ranks = engine.retrieval_ranks(asked, eligible_sql(), first_stage)
            shown = asked.column("as_of").to_numpy(zero_copy_only=False)
            kept = (ranks > 0) & (ranks <= per_customer)
            for day in todo:
                today = shown == np.datetime64(day, "D")
                found[day] = RecallDay(day, int(today.sum()), int(kept[today].sum()))
                advance(label=str(day))
    result = [found[d] for d in counts]
    total = sum(r.positives for r in result)
    return sum(r.hits for r in result) / total, total, result
