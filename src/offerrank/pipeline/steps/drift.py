"""Feature drift of today's scored pairs against the active model's reference.

The reference is the features the model scored on the day it was trained (same
population: candidate pairs), so that the candidate rules' deliberate selection is not
mistaken for drift.
"""

from __future__ import annotations

import json

from offerrank.features.registry import FEATURE_COLUMNS
from offerrank.monitoring.drift import dataset_drift, feature_drift_from_profile, reference_profile
from offerrank.pipeline.context import Run
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.rank import Ranked
from offerrank.pipeline.steps.train import Trained
from offerrank.store import outputs


def drift(run: Run, trained: Trained, ranked: Ranked) -> Done[None]:
    feats = ranked.scored.features
    if feats.num_rows == 0:
        return Done(None, "no scoring features today (no candidates)", skipped=True)
    s, version = run.settings, trained.model.version
    row = run.store.execute(
        "SELECT reference_date, profile_json FROM drift_reference WHERE model_version = ?",
        (version,),
    ).fetchone()
    new_reference = row is None
    if new_reference:
        profile = reference_profile(feats, list(FEATURE_COLUMNS))
        ref_date = run.day
    else:
        ref_date, profile = row[0], json.loads(row[1])
    drifts = feature_drift_from_profile(
        profile,
        feats,
        list(FEATURE_COLUMNS),
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
        if new_reference:
            outputs.put_drift_reference(con, version, run.day, profile)
        outputs.replace_feature_drift(con, run.day, drifts)
    drifted = [d.feature for d in drifts if d.drifted]
    return Done(
        None,
        f"{len(drifted)} of {len(drifts)} features drifted against {ref_date}"
        + (f" ({', '.join(drifted[:5])})" if drifted else "")
        + ("; dataset drift flagged: retrain next run" if flag else ""),
    )
