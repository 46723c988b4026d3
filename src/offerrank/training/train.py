"""Train both rankers on the point-in-time training set and keep the better one.

The winner is the model with the higher ROC AUC on the validation days (mature,
never downsampled, after every training day). Its probabilities are corrected for
the negative downsampling before it is saved.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from offerrank.config import Settings
from offerrank.engines.base import Engine
from offerrank.errors import RunError
from offerrank.features.registry import CONTRACT_FEATURES, FEATURE_SETS, set_name
from offerrank.training.calibration import fit_shift
from offerrank.training.dataset import Split, TrainingData, build_training_data
from offerrank.training.models import (
    LogisticModel,
    Ranker,
    fit_lightgbm,
    fit_logistic,
    predict_proba,
    validation_auc,
)

MIN_POSITIVES = 5


@dataclass
class TrainResult:
    model: Ranker
    version: str
    sidecar: dict[str, Any]
    data: TrainingData
    metrics: dict[str, float]
    validation_scores: dict[str, np.ndarray]  # calibrated, per model kind, on validation days
    logistic: LogisticModel  # the linear model over the contract's 22: retrieval's first stage


def model_version(run_date: date, kind: str, feature_set: str = "contract") -> str:
    """`2026-02-16-lgbm`; a model of another feature set than the contract's carries its
    name (`2026-02-16-lgbm-history`), so that a date retrained on another set never
    replaces the model of the first under the same version."""
    short = "lgbm" if kind == "lightgbm" else "lr"
    suffix = "" if feature_set == "contract" else f"-{feature_set}"
    return f"{run_date.isoformat()}-{short}{suffix}"


def train_models(
    engine: Engine, run_date: date, settings: Settings, split: Split | None = None
) -> TrainResult:
    """Fit LR and LightGBM, pick by validation AUC, calibrate; RunError when data is too thin."""
    features = FEATURE_SETS[settings.feature_set]
    data = build_training_data(engine, run_date, settings, split, feature_set=features)
    return fit_models(data, run_date, settings)


def fit_models(data: TrainingData, run_date: date, settings: Settings) -> TrainResult:
    """Both models on a training set, the better kept (see the module's docstring)."""
    tr, va = data.train, data.validation
    if tr.positives < MIN_POSITIVES or tr.n - tr.positives < MIN_POSITIVES:
        raise RunError(
            f"cannot train for {run_date}: {tr.positives} positive and {tr.n - tr.positives} "
            f"negative mature impressions shown {data.split.train.first}..{data.split.train.last}"
            f" (need at least {MIN_POSITIVES} of each)"
        )
    t0 = time.perf_counter()
    lr = fit_logistic(tr.X, tr.y, settings.seed)
    t_lr = time.perf_counter() - t0
    lgbm, lgbm_params = fit_lightgbm(tr.X, tr.y, settings.seed)
    t_lgbm = time.perf_counter() - t0 - t_lr
    shift = math.log(data.kept_negative_rate)
    lr.log_odds_shift = shift
    lgbm.log_odds_shift = shift
    # Retrieval scores every eligible pair on the contract's 22 features alone: with
    # extras, its linear model is fitted on those columns (the first 22 of every set).
    columns = data.feature_set.columns
    if columns[: len(CONTRACT_FEATURES)] != CONTRACT_FEATURES:
        raise ValueError("a feature set must start with the contract's 22 features")
    first_stage = (
        lr
        if len(columns) == len(CONTRACT_FEATURES)
        else fit_logistic(tr.X[:, : len(CONTRACT_FEATURES)], tr.y, settings.seed)
    )
    auc_lr = validation_auc(lr, va.X, va.y)
    auc_lgbm = validation_auc(lgbm, va.X, va.y)
    # Prefer LightGBM on a tie; with no validation positives, fall back to the simpler model.
    winner: Ranker = lgbm if (auc_lgbm or 0.0) >= (auc_lr or 0.0) and auc_lgbm is not None else lr
    val_auc = auc_lgbm if winner is lgbm else auc_lr
    recent = recalibrate(winner, data, settings)
    metrics: dict[str, float] = {
        "train_rows": tr.n,
        "train_positives": tr.positives,
        "validation_rows": va.n,
        "validation_positives": va.positives,
        "kept_negative_rate": data.kept_negative_rate,
        "calibration_intercept": recent,
        "fit_seconds_lr": t_lr,
        "fit_seconds_lgbm": t_lgbm,
    }
    if auc_lr is not None:
        metrics["val_auc_lr"] = auc_lr
    if auc_lgbm is not None:
        metrics["val_auc_lgbm"] = auc_lgbm
    if va.n:
        metrics["val_mean_prediction"] = float(predict_proba(winner, va.X).mean())
        metrics["val_positive_rate"] = float(va.y.mean())
    sidecar = {
        "trained_for": run_date.isoformat(),
        "train_window": [data.split.train.first.isoformat(), data.split.train.last.isoformat()],
        "validation_window": [
            data.split.validation.first.isoformat(),
            data.split.validation.last.isoformat(),
        ],
        "feature_columns": list(columns),
        "val_auc": val_auc,
        "val_auc_lr": auc_lr,
        "val_auc_lgbm": auc_lgbm,
        "train_positives": tr.positives,
        "validation_rows": va.n,
        "validation_positives": va.positives,
        "kept_negative_rate": data.kept_negative_rate,
        "calibration_intercept": recent,
        "lightgbm_params": lgbm_params,
        "settings": settings.model_dump(mode="json"),
    }
    scores = {m.kind: predict_proba(m, va.X) for m in (lr, lgbm)}
    return TrainResult(
        winner,
        model_version(run_date, winner.kind, set_name(data.feature_set)),
        sidecar,
        data,
        metrics,
        scores,
        first_stage,
    )


CALIBRATION_DAYS = 7


def recalibrate(model: Ranker, data: TrainingData, settings: Settings) -> float:
    """Add to the model's log-odds shift the intercept that matches its mean prediction to
    the positive rate of the newest `CALIBRATION_DAYS` of its training split (kept
    negatives weighed back to their real number); returns that intercept."""
    tr = data.train
    last = data.split.train.last
    days = np.array(tr.keys.column("as_of").to_pylist(), dtype="datetime64[D]")
    recent = days >= np.datetime64(last - timedelta(days=CALIBRATION_DAYS - 1))
    if not recent.any():
        return 0.0
    weights = np.where(tr.y[recent] == 1, 1.0, 1.0 / data.kept_negative_rate)
    logits = model.raw_log_odds(tr.X[recent]) + model.log_odds_shift
    delta = fit_shift(logits, tr.y[recent], weights)
    model.log_odds_shift += delta
    return delta


def validation_scores(result: TrainResult) -> np.ndarray:
    return predict_proba(result.model, result.data.validation.X)
