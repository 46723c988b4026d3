"""Persist a sample of today's scored pairs with their contributions, and the global
importance of each feature, replacing the date's rows in one transaction."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from offerrank.features.registry import FEATURE_COLUMNS
from offerrank.monitoring.explain import (
    DEFAULT_IMPORTANCE_SAMPLE,
    UNITS,
    contributions,
    global_importance,
    method_of,
    sample_rng,
    stratified_sample,
    typical_values,
)
from offerrank.pipeline.context import Run
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.rank import Ranked
from offerrank.pipeline.steps.train import Trained
from offerrank.store import outputs


def explain(run: Run, trained: Trained, ranked: Ranked) -> Done[None]:
    """Sample scored pairs (top-ranked included), store their contributions and importance."""
    feats, scores, X = ranked.scored.features, ranked.scored.scores, ranked.scored.X
    if feats.num_rows == 0:
        with run.outputs() as con:
            outputs.replace_explanations(con, run.day, {})
        return Done(None, "no scored pairs today (no candidates): nothing to explain", skipped=True)
    s = run.settings
    size = s.explain_sample
    model = trained.model.model
    cust = feats.column("customer_id").to_numpy()
    offer = feats.column("offer_id").to_numpy()
    rank = ranked.ranks
    rng = sample_rng(s.seed, run.run_date)
    sample = stratified_sample(cust, rank, s.top_k, size, rng)
    idx = sample.index
    contrib = contributions(model, X[idx])
    importance = global_importance(model, X, rng, DEFAULT_IMPORTANCE_SAMPLE)
    typical = typical_values(X, s.seed)
    version, method = trained.model.version, method_of(model.kind)
    n, f = idx.size, len(FEATURE_COLUMNS)
    pairs = pa.table(
        {
            "run_date": pa.array(np.full(n, run.day)),
            "customer_id": cust[idx].astype(np.int64),
            "offer_id": offer[idx].astype(np.int64),
            "rank": rank[idx],
            "score": scores[idx].astype(np.float64),
            "log_odds": contrib.log_odds,
            "bias": contrib.bias,
            "stratum": pa.array(sample.stratum.astype(str)),
            "model_version": pa.array(np.full(n, version)),
            "method": pa.array(np.full(n, method)),
            "units": pa.array(np.full(n, UNITS)),
        }
    )
    long = pa.table(
        {
            "run_date": pa.array(np.full(n * f, run.day)),
            "customer_id": np.repeat(cust[idx], f).astype(np.int64),
            "offer_id": np.repeat(offer[idx], f).astype(np.int64),
            "feature": pa.array(np.tile(np.array(FEATURE_COLUMNS), n)),
            "value": X[idx].ravel(),
            "contribution": contrib.per_feature.ravel(),
        }
    )
    imp = pa.table(
        {
            "run_date": pa.array(np.full(f, run.day)),
            "feature": pa.array(np.array(FEATURE_COLUMNS)),
            "mean_abs_contribution": importance.mean_abs,
            "mean_contribution": importance.mean,
            "pairs": np.full(f, importance.pairs, dtype=np.int64),
            "model_version": pa.array(np.full(f, version)),
            "units": pa.array(np.full(f, UNITS)),
            "typical_p25": typical[0],
            "typical_median": typical[1],
            "typical_p75": typical[2],
        }
    )
    with run.outputs() as con:
        outputs.replace_explanations(
            con,
            run.day,
            {
                "explanation_pairs": pairs,
                "explanation_contributions": long,
                "feature_importance": imp,
            },
        )
    top = np.argsort(-importance.mean_abs)[:3]
    return Done(
        None,
        f"explained {n} pairs ({sample.top_pairs} top-{s.top_k} pairs, "
        f"{n - sample.top_pairs} random) by {method}, in {UNITS}; most important: "
        + ", ".join(FEATURE_COLUMNS[i] for i in top),
    )
