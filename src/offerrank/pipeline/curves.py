"""Storing the report's curves for a run date (table `run_curves`).

Curves come in two groups written by different steps: `validation.*` (both models on
the validation days, on a retraining day) and `evaluation.*` (the evaluated model on
the out-of-sample impressions). Each call replaces the rows of the groups it is given
for the date, in one transaction, and leaves the other group alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from offerrank.monitoring.curves import evaluation_payloads, roc_payload
from offerrank.pipeline.context import RunContext
from offerrank.store.db import transaction


def store_curves(
    ctx: RunContext,
    *,
    evaluation: pd.DataFrame | None = None,
    validation: tuple[np.ndarray, Mapping[str, np.ndarray]] | None = None,
    max_k: int | None = None,
) -> list[str]:
    """Compute and store the curves of the groups given; return the names written.

    evaluation: one row per evaluated impression with customer_id, label, score
        (calibrated probability) and margin, as built by the evaluate step.
    validation: (labels, {model kind: calibrated probabilities}) on the validation days.
    max_k: largest k of the @k curves (default: settings.top_k).
    """
    groups: dict[str, dict[str, Any]] = {}
    if evaluation is not None:
        groups["evaluation"] = evaluation_payloads(evaluation, max_k or ctx.settings.top_k)
    if validation is not None:
        labels, scores = validation
        groups["validation"] = {"roc": roc_payload(np.asarray(labels), scores)}
    rows = [
        (ctx.day, f"{group}.{name}", json.dumps(payload, allow_nan=False))
        for group, curves in groups.items()
        for name, payload in curves.items()
    ]
    with transaction(ctx.store):
        for group in groups:
            ctx.store.execute(
                "DELETE FROM run_curves WHERE run_date = ? AND name LIKE ?", (ctx.day, f"{group}.%")
            )
        ctx.store.executemany("INSERT INTO run_curves VALUES (?, ?, ?)", rows)
    return [name for _, name, _ in rows]
