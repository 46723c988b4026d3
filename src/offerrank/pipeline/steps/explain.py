"""Persist a sample of today's scored pairs with their contributions, and the global
importance of each feature, replacing the date's rows in one transaction."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from offerrank.features.registry import feature_matrix
from offerrank.monitoring.explain import (
    RANDOM_STRATUM,
    TOP_STRATUM,
    UNITS,
    contributions,
    global_importance,
    method_of,
    typical_values,
)
from offerrank.pipeline.context import Run
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.train import Trained
from offerrank.ranking.samples import Samples
from offerrank.store.results import outputs


def explain(run: Run, trained: Trained, samples: Samples) -> Done[None]:
    """Contributions of the rank step's explanation sample (top-ranked pairs included),
    importance over its uniform sample, typical values over its drift sample."""
    sample = samples.explain
    if sample.num_rows == 0:
        with run.outputs() as con:
            outputs.replace_explanations(con, run.day, {})
        return Done(None, "no scored pairs today (no candidates): nothing to explain", skipped=True)
    s, model = run.settings, trained.model.model
    version, method = trained.model.version, method_of(model.kind)
    columns = trained.model.features.columns
    X = feature_matrix(sample, columns)
    contrib = contributions(model, X)
    importance = global_importance(model, feature_matrix(samples.importance, columns))
    typical = typical_values(feature_matrix(samples.drift, columns))
    n, f = X.shape[0], len(columns)
    top = samples.explain_top.to_numpy(zero_copy_only=False)
    cust = sample.column("customer_id").to_numpy()
    offer = sample.column("offer_id").to_numpy()
    pairs = pa.table(
        {
            "run_date": pa.array(np.full(n, run.day)),
            "customer_id": cust,
            "offer_id": offer,
            "rank": sample.column("rank"),
            "score": sample.column("score"),
            "log_odds": contrib.log_odds,
            "bias": contrib.bias,
            "stratum": pa.array(np.where(top, TOP_STRATUM, RANDOM_STRATUM)),
            "model_version": pa.array(np.full(n, version)),
            "method": pa.array(np.full(n, method)),
            "units": pa.array(np.full(n, UNITS)),
        }
    )
    long = pa.table(
        {
            "run_date": pa.array(np.full(n * f, run.day)),
            "customer_id": np.repeat(cust, f),
            "offer_id": np.repeat(offer, f),
            "feature": pa.array(np.tile(np.array(columns), n)),
            "value": X.ravel(),
            "contribution": contrib.per_feature.ravel(),
        }
    )
    imp = pa.table(
        {
            "run_date": pa.array(np.full(f, run.day)),
            "feature": pa.array(np.array(columns)),
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
    top_n = int(top.sum())
    best = np.argsort(-importance.mean_abs)[:3]
    return Done(
        None,
        f"explained {n} pairs ({top_n} top-{s.top_k} pairs, {n - top_n} random) by {method},"
        f" in {UNITS}; most important: " + ", ".join(columns[i] for i in best),
    )
