"""MLflow tracking against a real local tracking store (SQLite) and its model registry."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from offerrank.config import Settings
from offerrank.engines.registry import open_engine
from offerrank.features.registry import FEATURE_COLUMNS
from offerrank.pipeline.daily import run_daily
from offerrank.store.db import connect
from offerrank.training.models import fit_lightgbm, fit_logistic, predict_proba
from offerrank.training.registry import load_active
from offerrank.training.train import TrainResult, model_version, train_models

mlflow = pytest.importorskip("mlflow")
from offerrank.tracking.mlflow_tracking import (  # noqa: E402
    TrackingError,
    champion,
    follow_activation,
    log_training,
    set_champion,
    track_training,
)

DAY = date(2026, 2, 16)


@pytest.fixture(scope="module")
def trained(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """One real training on the tiny world."""
    db = tmp_path_factory.mktemp("trained") / "metro.db"
    shutil.copy(tiny_world, db)
    settings = Settings(db_path=db, history_cache=False)
    engine = open_engine(settings)
    try:
        engine.load()
        return train_models(engine, DAY, settings)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def empty_tracking_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new MLflow tracking database (creating its tables takes seconds: done once)."""
    db = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def tracked(empty_tracking_db: Path, tmp_path: Path) -> Settings:
    """Settings tracking to a fresh copy of the empty tracking database."""
    shutil.copy(empty_tracking_db, tmp_path / "mlflow.db")
    return Settings(
        db_path=tmp_path / "metro.db", mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"
    )


def with_model(result: TrainResult, kind: str) -> TrainResult:
    """The same training with the model of `kind` as the chosen one."""
    if result.model.kind == kind:
        return result
    X, y = result.data.train.X, result.data.train.y
    model = (
        fit_logistic(X, y, seed=42) if kind == "logistic_regression" else fit_lightgbm(X, y, 42)[0]
    )
    model.log_odds_shift = result.model.log_odds_shift
    return dataclasses.replace(result, model=model, version=model_version(DAY, kind))


def test_a_training_is_logged_registered_and_champion(
    trained: TrainResult, tracked: Settings, tmp_path: Path
) -> None:
    s, trained = tracked, with_model(trained, "lightgbm")
    notes = track_training(s, trained, DAY, "scheduled", trained.version)
    assert notes == [
        f"mlflow: logged {trained.version} as offerrank-ranker version 1; champion:"
        f" {trained.version}"
    ]
    client = mlflow.MlflowClient(tracking_uri=s.mlflow_tracking_uri)
    run = client.search_runs([client.get_experiment_by_name("offerrank").experiment_id])[0]
    assert run.data.params["model_version"] == trained.version
    assert run.data.params["model_type"] == "lightgbm"
    assert run.data.params["retrain_reason"] == "scheduled"
    metrics = run.data.metrics
    for name in ("val_auc_lr", "val_auc_lgbm", "val_brier_lr", "val_brier_lgbm"):
        assert 0 < metrics[name] < 1
    assert metrics["val_auc_lgbm"] == pytest.approx(trained.metrics["val_auc_lgbm"])
    features = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/features.json")
    assert features["feature_columns"] == list(FEATURE_COLUMNS)
    assert champion(s) == trained.version
    # The registered champion is the LightGBM flavour: the same raw scores as offerrank's.
    booster = mlflow.lightgbm.load_model("models:/offerrank-ranker@champion")
    X = trained.data.validation.X[:50]
    np.testing.assert_allclose(booster.predict(X, raw_score=True), trained.model.raw_log_odds(X))
    # The artifacts live beside the tracking database, not in the current directory.
    assert (tmp_path / "mlflow-artifacts").is_dir() and not Path("mlruns").exists()


def test_set_champion_moves_the_alias_for_a_rollback(trained: TrainResult, tracked: Settings):
    s = tracked
    trained, lr = with_model(trained, "lightgbm"), with_model(trained, "logistic_regression")
    assert log_training(s, trained, DAY, "scheduled") == "1"
    assert log_training(s, lr, DAY, "drift") == "2"
    assert set_champion(s, lr.version) == "2" and champion(s) == lr.version
    # The logistic regression is a pyfunc logged as code: calibrated probabilities.
    model = mlflow.pyfunc.load_model("models:/offerrank-ranker@champion")
    X = trained.data.validation.X[:50]
    np.testing.assert_allclose(model.predict(X), predict_proba(lr.model, X), rtol=1e-12)
    assert set_champion(s, trained.version) == "1" and champion(s) == trained.version
    with pytest.raises(TrackingError, match="never logged"):
        set_champion(s, "2020-01-01-lgbm")
    # `offerrank models activate` moves it too, and never fails for it.
    assert follow_activation(s, lr.version) == "mlflow: champion is now offerrank-ranker version 2"
    assert champion(s) == lr.version and follow_activation(Settings(), lr.version) is None
    assert follow_activation(s, "2020-01-01-lgbm").startswith("warning: MLflow alias champion")


def test_tracking_off_by_default_and_a_failure_is_only_a_note(trained: TrainResult, tmp_path):
    assert track_training(Settings(), trained, DAY, "scheduled", trained.version) == []
    with pytest.raises(TrackingError, match="off"):
        set_champion(Settings(), trained.version)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the tracking database's folder should be")
    s = Settings(mlflow_tracking_uri=f"sqlite:///{blocked / 'mlflow.db'}")
    notes = track_training(s, trained, DAY, "scheduled", trained.version)
    assert len(notes) == 1 and notes[0].startswith("warning: MLflow tracking failed")


def test_a_daily_run_logs_its_training(world_db: Path, tracked: Settings, tmp_path: Path) -> None:
    s = tracked.model_copy(
        update={
            "db_path": world_db,
            "artifacts_dir": tmp_path / "models",
            "reports_dir": tmp_path / "reports",
            "bootstrap_samples": 0,
        }
    )
    result = run_daily(s, DAY)
    assert result.ok
    assert any(n.startswith("mlflow: logged 2026-02-16-") for n in result.notes), result.notes
    con = connect(world_db)
    active = load_active(con)
    con.close()
    assert active is not None and champion(s) == active.version
