"""The report's curves of a run (table `run_curves`), in two groups written by
different steps: `validation.*` (both models on the validation days, on a retraining
day) and `evaluation.*` (the evaluated model on the out-of-sample impressions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from offerrank.monitoring.curves import evaluation_payloads, roc_payload


def evaluation_curves(frame: pd.DataFrame, max_k: int) -> dict[str, dict[str, Any]]:
    """The `evaluation` group: one row per evaluated impression with customer_id, label,
    score (calibrated probability) and margin, as built by the evaluate step."""
    return {"evaluation": evaluation_payloads(frame, max_k)}


def validation_curves(
    labels: np.ndarray, scores: Mapping[str, np.ndarray]
) -> dict[str, dict[str, Any]]:
    """The `validation` group: (labels, {model kind: calibrated probabilities})."""
    return {"validation": {"roc": roc_payload(np.asarray(labels), scores)}}
