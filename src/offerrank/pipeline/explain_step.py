"""The explain step: persist a sample of today's scored pairs with their contributions,
and the global importance of each feature, replacing the date's rows in one transaction.

It runs after `rank` (it needs the scored pairs and the model that scored them).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from offerrank.features.compute import FEATURE_COLUMNS
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
from offerrank.pipeline.context import RunContext
from offerrank.pipeline.runs import StepSkipped
from offerrank.ranking.rank import feature_matrix, rank_within_customer
from offerrank.store.db import insert_arrow

EXPLANATION_TABLES = ("explanation_pairs", "explanation_contributions", "feature_importance")


def step_explain(ctx: RunContext) -> str:
    """Sample scored pairs (top-ranked included), store their contributions and importance."""
    assert ctx.model is not None
    feats, scores = ctx.scoring_features, ctx.scores
    if feats is None or scores is None or feats.num_rows == 0:
        _replace(ctx, [])
        raise StepSkipped("no scored pairs today (no candidates): nothing to explain")
    s = ctx.settings
    size = s.explain_sample
    model = ctx.model.model
    cust = feats.column("customer_id").to_numpy()
    offer = feats.column("offer_id").to_numpy()
    X = ctx.scoring_matrix if ctx.scoring_matrix is not None else feature_matrix(feats)
    rank = ctx.ranks if ctx.ranks is not None else rank_within_customer(cust, offer, scores)
    rng = sample_rng(s.seed, ctx.run_date)
    sample = stratified_sample(cust, rank, s.top_k, size, rng)
    idx = sample.index
    contrib = contributions(model, X[idx])
    importance = global_importance(model, X, rng, DEFAULT_IMPORTANCE_SAMPLE)
    typical = typical_values(X, s.seed)
    version, method = ctx.model.version, method_of(model.kind)
    n, f = idx.size, len(FEATURE_COLUMNS)
    pairs = pa.table(
        {
            "run_date": pa.array(np.full(n, ctx.day)),
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
            "run_date": pa.array(np.full(n * f, ctx.day)),
            "customer_id": np.repeat(cust[idx], f).astype(np.int64),
            "offer_id": np.repeat(offer[idx], f).astype(np.int64),
            "feature": pa.array(np.tile(np.array(FEATURE_COLUMNS), n)),
            "value": X[idx].ravel(),
            "contribution": contrib.per_feature.ravel(),
        }
    )
    imp = pa.table(
        {
            "run_date": pa.array(np.full(f, ctx.day)),
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
    _replace(ctx, [("explanation_pairs", pairs), ("explanation_contributions", long),
                   ("feature_importance", imp)])  # fmt: skip
    top = np.argsort(-importance.mean_abs)[:3]
    return (
        f"explained {n} pairs ({sample.top_pairs} top-{s.top_k} pairs, "
        f"{n - sample.top_pairs} random) by {method}, in {UNITS}; most important: "
        + ", ".join(FEATURE_COLUMNS[i] for i in top)
    )


def _replace(ctx: RunContext, tables: list[tuple[str, pa.Table]]) -> None:
    """Drop the date's rows of every explanation table and insert the new ones, atomically."""
    with ctx.outputs() as con:
        for name in EXPLANATION_TABLES:
            con.execute(f"DELETE FROM {name} WHERE run_date = ?", (ctx.day,))
        for name, data in tables:
            insert_arrow(con, name, data)
