"""Feature drift of today's scored pairs against the active model's reference, and the
features that carry no information today.

A model's reference is the features of the pairs it scored on its first day (same
population: retrieved pairs), so that retrieval's deliberate selection is not mistaken for
drift. On that first day the rows would be compared with themselves, so a new model's
first day is compared with the reference of the model it replaced (or drift is marked not
applicable when there is none).

A feature that is constant (or nearly: one value in 99 % of the pairs) tells the model
nothing today: it is flagged, in the notes and the report, whatever its drift.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from offerrank.monitoring.drift import dataset_drift, feature_drift_from_profile, reference_profile
from offerrank.pipeline.context import Run
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.load import Plan
from offerrank.pipeline.steps.train import Trained
from offerrank.ranking.samples import Samples
from offerrank.store.read import models, monitoring
from offerrank.store.results import outputs

NEAR_CONSTANT = 0.99  # share of the pairs holding one value
# Constant among retrieved pairs by the eligibility rules themselves, not by the data.
BY_RULE = {"business_type_match": "retrieval keeps only offers meant for the customer's type"}


def drift(run: Run, plan: Plan, trained: Trained, samples: Samples) -> Done[None]:
    feats = samples.drift  # a uniform hash sample of the scored pairs (drift_sample)
    if feats.num_rows == 0:
        return Done(None, "no scoring features today (no candidates)", skipped=True)
    s, version = run.settings, trained.model.version
    columns = list(trained.model.features.columns)
    run.put_metrics({"drift_sample_pairs": feats.num_rows})
    shares = top_value_shares(feats, columns)
    _flag_constant(run, shares)
    own = _reference(run, version)
    # The model's first day (or a rerun of it): today's rows become its reference.
    if own is None or own[0] == run.day:
        with run.outputs() as con:
            outputs.put_drift_reference(con, version, run.day, reference_profile(feats, columns))
        previous = _replaced(run, plan, version)
        earlier = _reference(run, previous) if previous and previous != version else None
        if earlier is None:
            with run.outputs() as con:
                outputs.replace_feature_drift(con, run.day, [], shares)
            return Done(
                None,
                f"not applicable: the first day of {version}, and no earlier reference",
                skipped=True,
            )
        ref_date, profile, against = earlier[0], earlier[1], f"{previous}'s reference of"
    else:
        ref_date, profile, against = own[0], own[1], "its reference of"
    drifts = feature_drift_from_profile(
        profile,
        feats,
        [c for c in columns if c in profile["features"]],  # an earlier model's may differ
        psi_threshold=s.psi_threshold,
        wasserstein_threshold=s.wasserstein_threshold,
    )
    flag, share = dataset_drift(drifts, s.drift_share_threshold)
    run.put_metrics(
        {
            "dataset_drift": int(flag),
            "drift_share": share,
            "features_drifted": sum(d.drifted for d in drifts),
        }
    )
    with run.outputs() as con:
        outputs.replace_feature_drift(con, run.day, drifts, shares)
    drifted = [d.feature for d in drifts if d.drifted]
    return Done(
        None,
        f"{len(drifted)} of {len(drifts)} features drifted against {against} {ref_date}"
        + (f" ({', '.join(drifted[:5])})" if drifted else "")
        + ("; dataset drift flagged: retrain next run" if flag else ""),
    )


def _replaced(run: Run, plan: Plan, version: str) -> str | None:
    """The model `version` replaced: the incumbent when it was first promoted (a rerun of
    its first day finds it active already), else the model active before this run."""
    replaced = models.replaced_by(run.store, version)
    if replaced is not None:
        return replaced
    return plan.active.version if plan.active is not None else None


def _reference(run: Run, version: str | None) -> tuple[str, dict[str, Any]] | None:
    return None if version is None else monitoring.drift_reference(run.store, version)


def top_value_shares(feats: pa.Table, columns: list[str]) -> dict[str, float]:
    """Per feature, the share of the pairs holding its most common value."""
    out = {}
    for name in columns:
        values = feats.column(name).to_numpy()
        _, counts = np.unique(values, return_counts=True)
        out[name] = float(counts.max() / values.size) if values.size else 1.0
    return out


def _flag_constant(run: Run, shares: dict[str, float]) -> None:
    constant = [f for f, v in shares.items() if v >= 1.0 and f not in BY_RULE]
    nearly = [f for f, v in shares.items() if NEAR_CONSTANT <= v < 1.0 and f not in BY_RULE]
    run.put_metrics({"constant_features": len(constant), "near_constant_features": len(nearly)})
    if constant:
        run.notes.append(
            "warning: constant in every scored pair today, so no use to the model: "
            + ", ".join(constant)
        )
    if nearly:
        run.notes.append(
            f"warning: one value in {NEAR_CONSTANT:.0%} or more of the scored pairs today: "
            + ", ".join(f"{f} ({shares[f]:.1%})" for f in nearly)
        )
