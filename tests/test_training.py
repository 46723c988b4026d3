"""Training-set construction, calibration and the model registry."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines import duckdb_engine
from offerrank.config import Settings
from offerrank.store.db import connect
from offerrank.store.results.migrations import migrate
from offerrank.training.dataset import (
    build_training_data,
    downsample_negatives,
    last_mature_day,
    training_split,
)
from offerrank.training.models import LogisticModel, fit_logistic, predict_proba, sigmoid
from offerrank.training.registry import ArtifactProblem, load_active, save_model


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    st.integers(7, 120),
    st.integers(1, 6),
    st.integers(0, 14),
)
def test_split_uses_only_mature_days_and_validation_comes_last(
    run_date: date, window: int, val_days: int, label_days: int
) -> None:
    s = Settings(train_window_days=window, validation_days=val_days, label_window_days=label_days)
    split = training_split(run_date, s)
    assert split.validation.last + timedelta(days=label_days) < run_date  # mature
    assert last_mature_day(run_date, s) + timedelta(days=label_days + 1) == run_date
    assert split.train.last < split.validation.first
    assert (split.validation.last - split.validation.first).days + 1 == val_days
    assert (split.validation.last - split.train.first).days + 1 == window


def test_training_rows_are_mature_and_match_the_window(world_db: Path) -> None:
    s = Settings(db_path=world_db)
    run_date = date(2026, 2, 16)
    engine = duckdb_engine(world_db)
    con = engine.con
    data = build_training_data(engine, run_date, s)
    split = data.split
    for part, window in ((data.train, split.train), (data.validation, split.validation)):
        days = part.keys.column("as_of").to_pylist()
        assert all(window.first <= d <= window.last for d in days)
        assert all(d + timedelta(days=s.label_window_days) < run_date for d in days)
    assert max(data.train.keys.column("as_of").to_pylist()) < min(
        data.validation.keys.column("as_of").to_pylist()
    )
    # validation keeps the real class balance; training keeps every positive
    n_val = con.sql(
        "SELECT COUNT(*) FROM impression_labels WHERE shown_date BETWEEN ? AND ?",
        params=[split.validation.first, split.validation.last],
    ).fetchall()[0][0]
    assert data.validation.n == n_val
    pos_train = con.sql(
        "SELECT SUM(label) FROM impression_labels WHERE shown_date BETWEEN ? AND ?",
        params=[split.train.first, split.train.last],
    ).fetchall()[0][0]
    assert data.train.positives == pos_train
    assert data.train.n - data.train.positives <= math.ceil(s.negative_ratio * pos_train)


def test_downsampling_is_seeded_and_keeps_every_positive() -> None:
    y = (np.arange(10_000) % 100 == 0).astype(np.int8)
    ids = np.arange(10_000) + 1
    m1, rate = downsample_negatives(y, ids, 5.0, seed=1)
    m2, _ = downsample_negatives(y, ids, 5.0, seed=1)
    assert np.array_equal(m1, m2)
    assert m1[y == 1].all()
    assert (m1 & (y == 0)).sum() == 500
    assert rate == pytest.approx(500 / 9_900)


def test_log_odds_shift_undoes_negative_downsampling() -> None:
    # True rate 1 %; keep 10 % of negatives -> training rate ~9.2 %; the corrected
    # model's mean prediction must come back to ~1 %.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200_000, 1))
    y = (rng.random(200_000) < sigmoid(-4.8 + 0.8 * x[:, 0])).astype(np.int8)
    mask, rate = downsample_negatives(y, np.arange(y.size), 10.0, seed=0)
    model = fit_logistic(x[mask], y[mask], seed=0)
    model.log_odds_shift = math.log(rate)
    assert predict_proba(model, x).mean() == pytest.approx(y.mean(), rel=0.1)


def _store(tmp_path: Path) -> sqlite3.Connection:
    con = connect(tmp_path / "s.db", create=True)
    migrate(con)
    return con


def _model() -> LogisticModel:
    return LogisticModel(np.zeros(2), np.ones(2), np.array([1.0, -1.0]), 0.5, -2.0)


def test_registry_round_trip_and_single_active(tmp_path: Path) -> None:
    con = _store(tmp_path)
    save_model(con, tmp_path / "m", "v1", _model(), {"trained_for": "2026-01-05"})
    save_model(con, tmp_path / "m", "v2", _model(), {"trained_for": "2026-01-12"})
    active = load_active(con)
    assert active is not None and active.version == "v2"
    assert con.execute("SELECT COUNT(*) FROM model_registry WHERE is_active = 1").fetchone()[0] == 1
    X = np.array([[1.0, 2.0], [0.0, 0.0]])
    assert np.allclose(predict_proba(active.model, X), predict_proba(_model(), X))
    assert json.loads((tmp_path / "m" / "v2" / "sidecar.json").read_text())["model_version"] == "v2"


@pytest.mark.parametrize("damage", ["delete", "truncate", "tamper"])
def test_damaged_artifact_is_detected(tmp_path: Path, damage: str) -> None:
    con = _store(tmp_path)
    path = save_model(con, tmp_path / "m", "v1", _model(), {"trained_for": "2026-01-05"})
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_text(path.read_text()[:10])
    else:
        path.write_text(path.read_text().replace("0.5", "0.6"))
    with pytest.raises(ArtifactProblem):
        load_active(con)


def test_a_long_window_featurised_in_slices_equals_one_pass(tiny_world: Path) -> None:
    """A retraining day's window goes through the engine a few weeks of as-of dates at a
    time (bounded memory): every row gets the same features, in the same order."""
    from offerrank.engines.base import Window
    from offerrank.training.dataset import featurize

    engine = duckdb_engine(tiny_world)
    rows = engine.labelled_impressions(Window(date(2025, 11, 1), date(2026, 2, 20)))
    rows = rows.take(np.random.default_rng(0).permutation(rows.num_rows))  # any order
    whole = featurize(engine, rows, chunk_days=10_000)
    for days in (1, 7, 28):
        sliced = featurize(engine, rows, chunk_days=days)
        assert np.array_equal(sliced.X, whole.X) and np.array_equal(sliced.y, whole.y)
        assert sliced.keys.equals(whole.keys)
