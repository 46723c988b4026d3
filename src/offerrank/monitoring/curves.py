"""The curves the run report draws, computed at run time as JSON-ready dicts.

The report reads them from the store (`run_curves`) and never rescores a model, so a
report of an old date shows what that run measured. A run's curves come in two groups
written by different steps: `validation.*` (both models on the validation days, on a
retraining day, `validation_curves`) and `evaluation.*` (the evaluated model on the
out-of-sample impressions, `evaluation_curves`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from offerrank.monitoring.metrics_probability import calibration_table, roc_curve_points
from offerrank.monitoring.metrics_rank import auc, margin_lift_curve, precision_recall_curve_at_k


def _floats(values: Any) -> list[float | None]:
    """A JSON list: NaN and infinities become null."""
    a = np.asarray(values, dtype=np.float64)
    return [float(v) if np.isfinite(v) else None for v in a.tolist()]


def roc_payload(labels: np.ndarray, scores_by_model: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """ROC points and AUC of each model on the same labelled rows."""
    models: dict[str, Any] = {}
    for name, scores in scores_by_model.items():
        points = roc_curve_points(labels, scores)
        if points is None:
            continue
        models[name] = {
            "fpr": _floats(points[0]),
            "tpr": _floats(points[1]),
            "auc": auc(labels, scores),
        }
    return {"rows": int(np.asarray(labels).size), "models": models}


def at_k_payloads(frame: pd.DataFrame, max_k: int) -> dict[str, Any]:
    """Precision/recall@k and margin lift@k for k = 1..max_k.

    As for the @k metrics, each k is measured on the customers with more than k
    impressions (where the ranking decides), so the point at eval_k equals the metric.
    """
    ks = np.arange(1, max_k + 1)
    sizes = frame.groupby("customer_id")["label"].transform("size").to_numpy()
    prec, rec, lift = (np.full(ks.size, np.nan) for _ in range(3))
    customers = []
    for i, k in enumerate(ks):
        part = frame[sizes > k]
        customers.append(int(part["customer_id"].nunique()))
        if part.empty or not part["label"].any():
            continue
        c, y, s = part["customer_id"], part["label"], part["score"]
        _, p_k, r_k = precision_recall_curve_at_k(c, y, s, [k])
        _, l_k = margin_lift_curve(c, y, s, part["margin"], [k])
        prec[i], rec[i], lift[i] = p_k[0], r_k[0], l_k[0]
    k_list = [int(k) for k in ks]
    return {
        "precision_recall_at_k": {
            "k": k_list,
            "precision": _floats(prec),
            "recall": _floats(rec),
            "customers": customers,
        },
        "margin_lift": {"k": k_list, "lift": _floats(lift), "customers": customers},
    }


def evaluation_payloads(frame: pd.DataFrame, max_k: int = 10) -> dict[str, Any]:
    """Every evaluation curve from the evaluate step's frame.

    `frame` has one row per evaluated impression: customer_id, label, score (calibrated
    probability) and margin.
    """
    y = frame["label"].to_numpy()
    p = frame["score"].to_numpy()
    return {
        "roc": roc_payload(y, {"evaluated model": p}),
        **at_k_payloads(frame, max_k),
        "calibration": {"bins": calibration_table(y, p, bins=10)},
    }


def evaluation_curves(frame: pd.DataFrame, max_k: int) -> dict[str, dict[str, Any]]:
    """The `evaluation` group: one row per evaluated impression with customer_id, label,
    score (calibrated probability) and margin, as built by the evaluate step."""
    return {"evaluation": evaluation_payloads(frame, max_k)}


def validation_curves(
    labels: np.ndarray, scores: Mapping[str, np.ndarray]
) -> dict[str, dict[str, Any]]:
    """The `validation` group: (labels, {model kind: calibrated probabilities})."""
    return {"validation": {"roc": roc_payload(np.asarray(labels), scores)}}
