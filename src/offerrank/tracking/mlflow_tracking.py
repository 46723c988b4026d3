"""MLflow tracking of each training, and the `champion` alias on the active model.

Off unless `mlflow_tracking_uri` is set (and the `[mlflow]` extra installed). After a
successful training the run logs, to that tracking store: the training's parameters,
both models' validation figures (AUC, Brier score, log loss), the feature list, the
sidecar, and the chosen model (LightGBM with MLflow's LightGBM flavour, the logistic
regression as a pyfunc logged as code with its JSON coefficients), registered under
`mlflow_model_name` and tagged with offerrank's model version. The registry's alias
`champion` then points at the active model; `set_champion` moves it (a rollback).

Tracking never fails a run: any error becomes one note on the run. MLflow's telemetry
is switched off before it is imported, so nothing leaves the machine but what the
tracking URI names.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss

from offerrank.config import Settings
from offerrank.errors import OfferrankError
from offerrank.training.models import LightGBMModel, LogisticModel, predict_proba
from offerrank.training.train import TrainResult

CHAMPION = "champion"
VERSION_TAG = "offerrank_version"
PYFUNC_CODE = Path(__file__).with_name("lr_pyfunc.py")


class TrackingError(OfferrankError):
    """Tracking is off, MLflow is missing, or the registry has no such model."""


def _mlflow() -> ModuleType:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    try:
        import mlflow
    except ImportError as exc:
        raise TrackingError(
            f"mlflow_tracking_uri is set but MLflow is not installed ({exc.name} missing):"
            " pip install 'offerrank[mlflow]'"
        ) from None
    return mlflow


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's banners, INFO logs and warnings would interleave with the run's output."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _uri(settings: Settings) -> str:
    if not settings.mlflow_tracking_uri:
        raise TrackingError("MLflow tracking is off: set mlflow_tracking_uri")
    return settings.mlflow_tracking_uri


def _artifact_location(uri: str) -> str | None:
    """Beside a SQLite tracking database, not under the current directory (MLflow's default)."""
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :])
        return (db.parent / "mlflow-artifacts").resolve().as_uri()
    return None


def _client(settings: Settings) -> Any:
    mlflow = _mlflow()
    uri = _uri(settings)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _experiment_id(mlflow: ModuleType, settings: Settings) -> str:
    found = mlflow.get_experiment_by_name(settings.mlflow_experiment)
    if found is not None:
        return str(found.experiment_id)
    location = _artifact_location(_uri(settings))
    return str(mlflow.create_experiment(settings.mlflow_experiment, artifact_location=location))


def validation_figures(result: TrainResult) -> dict[str, float]:
    """Both models' figures on the validation days (AUC from training, Brier, log loss)."""
    y = result.data.validation.y
    out = {k: float(v) for k, v in result.metrics.items() if v is not None and math.isfinite(v)}
    if y.size and 0 < y.mean() < 1:
        for kind, scores in result.validation_scores.items():
            short = "lgbm" if kind == "lightgbm" else "lr"
            p = np.clip(scores, 1e-12, 1 - 1e-12)
            out[f"val_brier_{short}"] = float(brier_score_loss(y, p))
            out[f"val_log_loss_{short}"] = float(log_loss(y, p, labels=[0, 1]))
    return out


def _params(result: TrainResult, run_date: date, reason: str) -> dict[str, Any]:
    side = result.sidecar
    settings = side.get("settings", {})
    keep = (
        "train_window_days",
        "validation_days",
        "negative_ratio",
        "lookback_days",
        "label_window_days",
        "seed",
        "top_k",
        "retrain_weekday",
    )
    params: dict[str, Any] = {
        "run_date": run_date.isoformat(),
        "model_version": result.version,
        "model_type": result.model.kind,
        "retrain_reason": reason,
        "train_window": "..".join(side.get("train_window", [])),
        "validation_window": "..".join(side.get("validation_window", [])),
        "log_odds_shift": result.model.log_odds_shift,
        "features": len(result.data.feature_set.columns),
        "feature_set": settings.get("feature_set", "contract"),
        **{k: settings[k] for k in keep if k in settings},
    }
    for key, value in (side.get("lightgbm_params") or {}).items():
        params[f"lgbm_{key}"] = value
    return params


def _log_model(mlflow: ModuleType, result: TrainResult, settings: Settings, tmp: Path) -> Any:
    model, name = result.model, settings.mlflow_model_name
    sample = result.data.validation.X[:5]
    if isinstance(model, LightGBMModel):
        import lightgbm

        signature = mlflow.models.infer_signature(sample, model.raw_log_odds(sample))
        return mlflow.lightgbm.log_model(
            model.booster,
            name="model",
            registered_model_name=name,
            signature=signature,
            pip_requirements=[f"lightgbm=={lightgbm.__version__}"],
        )
    assert isinstance(model, LogisticModel)
    coefficients = tmp / "coefficients.json"
    data = {**json.loads(model.to_text()), "log_odds_shift": model.log_odds_shift}
    coefficients.write_text(json.dumps(data))
    signature = mlflow.models.infer_signature(sample, predict_proba(model, sample))
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(PYFUNC_CODE),
        artifacts={"coefficients": str(coefficients)},
        registered_model_name=name,
        signature=signature,
        pip_requirements=[f"numpy=={np.__version__}"],
    )


def log_training(settings: Settings, result: TrainResult, run_date: date, reason: str) -> str:
    """Log one training and register its model; returns the registered version number."""
    with _quiet():
        return _log_training(settings, result, run_date, reason)


def _log_training(settings: Settings, result: TrainResult, run_date: date, reason: str) -> str:
    client = _client(settings)
    mlflow = _mlflow()
    experiment = _experiment_id(mlflow, settings)
    with (
        tempfile.TemporaryDirectory(prefix="offerrank-mlflow-") as tmp,
        mlflow.start_run(experiment_id=experiment, run_name=run_date.isoformat()) as run,
    ):
        mlflow.log_params(_params(result, run_date, reason))
        mlflow.log_metrics(validation_figures(result))
        mlflow.log_dict({"feature_columns": list(result.data.feature_set.columns)}, "features.json")
        mlflow.log_dict(result.sidecar, "sidecar.json")
        mlflow.set_tags({VERSION_TAG: result.version, "model_type": result.model.kind})
        info = _log_model(mlflow, result, settings, Path(tmp))
    number = str(info.registered_model_version)
    client.set_model_version_tag(settings.mlflow_model_name, number, VERSION_TAG, result.version)
    client.set_model_version_tag(settings.mlflow_model_name, number, "run_id", run.info.run_id)
    return number


def registered_version(settings: Settings, version: str) -> str:
    """The registry's version number of offerrank model `version` (TrackingError if none)."""
    client = _client(settings)
    name = settings.mlflow_model_name
    found = client.search_model_versions(f"name = '{name}' and tags.{VERSION_TAG} = '{version}'")
    if not found:
        raise TrackingError(f"model {version} was never logged to MLflow ({name})")
    return str(max(found, key=lambda mv: int(mv.version)).version)


def set_champion(settings: Settings, version: str) -> str:
    """Point the alias `champion` at offerrank model `version`; returns its version number.

    For a rollback (`offerrank models activate VERSION`) and after each training.
    """
    with _quiet():
        number = registered_version(settings, version)
        _client(settings).set_registered_model_alias(settings.mlflow_model_name, CHAMPION, number)
    return number


def champion(settings: Settings) -> str | None:
    """The offerrank model version the alias `champion` points at (None: no alias yet)."""
    with _quiet():
        client = _client(settings)
        try:
            mv = client.get_model_version_by_alias(settings.mlflow_model_name, CHAMPION)
        except Exception:  # MLflow raises its own exception for a missing alias or model
            return None
    return None if mv is None else mv.tags.get(VERSION_TAG)


def track_training(
    settings: Settings, result: TrainResult, run_date: date, reason: str, active: str | None
) -> list[str]:
    """After a successful training: log it and point `champion` at the active model.

    Returns the notes for the run: one line saying what was logged, or why not. Never
    raises: tracking is a record of the run, not a part of it.
    """
    if not settings.mlflow_tracking_uri:
        return []
    try:
        number = log_training(settings, result, run_date, reason)
        if active is not None:
            set_champion(settings, active)
    except Exception as exc:  # noqa: BLE001 - any failure of tracking is only a note
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [f"warning: MLflow tracking failed ({type(exc).__name__}: {first[:300]})"]
    name = settings.mlflow_model_name
    return [f"mlflow: logged {result.version} as {name} version {number}; champion: {active}"]


def follow_activation(settings: Settings, version: str) -> str | None:
    """After a hand activation (`offerrank models activate`): the alias follows, when
    tracking is on. Returns a line for the user (None when tracking is off); never raises."""
    if not settings.mlflow_tracking_uri:
        return None
    try:
        number = set_champion(settings, version)
    except Exception as exc:  # noqa: BLE001 - the activation stands; the alias is a record
        return f"warning: MLflow alias {CHAMPION} not moved ({exc})"
    return f"mlflow: {CHAMPION} is now {settings.mlflow_model_name} version {number}"
