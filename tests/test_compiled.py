"""Compiled tree inference scores exactly as LightGBM does, or is not used."""

from __future__ import annotations

import shutil
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from offerrank.training.compiled import TOLERANCE, compile_booster, probe_rows
from offerrank.training.models import LightGBMModel

pytest.importorskip("lleaves")


def _booster(seed: int, trees: int = 30) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3000, 6))
    y = (X[:, 0] * X[:, 1] + rng.normal(size=3000) > 0).astype(int)
    params = {"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": seed}
    return lgb.train(params, lgb.Dataset(X, y), trees)


def test_the_compiled_model_scores_as_lightgbm(tmp_path: Path) -> None:
    booster = _booster(0)
    compiled, note = compile_booster(booster, tmp_path)
    assert compiled is not None, note
    X = np.random.default_rng(9).normal(size=(20_000, 6)) * 3
    expected = booster.predict(X, raw_score=True)
    assert np.max(np.abs(compiled.raw_log_odds(X) - expected)) <= TOLERANCE
    assert np.max(np.abs(compiled.raw_log_odds(np.asfortranarray(X)) - expected)) <= TOLERANCE
    model = LightGBMModel(booster, log_odds_shift=-2.0)
    plain = model.predict_proba(X)
    model.compile(tmp_path)
    assert model.compiled is not None
    np.testing.assert_allclose(model.predict_proba(X), plain, rtol=0, atol=1e-12)


def test_a_library_kept_beside_the_artifact_is_reused_and_checked(tmp_path: Path) -> None:
    a, b = _booster(0), _booster(1)
    compile_booster(a, tmp_path / "a")
    compile_booster(b, tmp_path / "b")
    [lib_a] = (tmp_path / "a").glob("*.so")
    [lib_b] = (tmp_path / "b").glob("*.so")
    shutil.copy(lib_a, lib_b)  # b's library replaced by a's: a stale or tampered cache
    compiled, note = compile_booster(b, tmp_path / "b")
    assert compiled is None and "differs from LightGBM's" in note
    assert not lib_b.exists()  # dropped: the next run compiles afresh
    compiled, note = compile_booster(b, tmp_path / "b")
    assert compiled is not None, note


def test_probe_rows_reach_both_sides_of_every_split() -> None:
    booster = _booster(2)
    X = probe_rows(booster)
    leaves = booster.predict(X, pred_leaf=True)
    used = {(t, leaf) for t in range(leaves.shape[1]) for leaf in np.unique(leaves[:, t])}
    every = {
        (t, leaf)
        for t in range(booster.num_trees())
        for leaf in range(booster.dump_model()["tree_info"][t]["num_leaves"])
    }
    assert len(used) >= 0.9 * len(every)


def test_a_pickled_model_travels_without_its_library(tmp_path: Path) -> None:
    import pickle

    model = LightGBMModel(_booster(3))
    model.compile(tmp_path)
    assert model.compiled is not None
    copy = pickle.loads(pickle.dumps(model))
    assert copy.compiled is None
    X = np.random.default_rng(1).normal(size=(100, 6))
    np.testing.assert_allclose(copy.predict_proba(X), model.predict_proba(X), atol=1e-12)


def test_the_served_model_keeps_its_compiled_predictor(tmp_path: Path) -> None:
    """The rank step serves a copy carrying the day's calibration shift: that copy must
    score with the compiled code too (a copy once lost it and fell back to LightGBM)."""
    from offerrank.training.calibration import shifted

    model = LightGBMModel(_booster(4))
    model.compile(tmp_path)
    served = shifted(model, 0.5)
    assert isinstance(served, LightGBMModel) and served.compiled is model.compiled
    assert served.log_odds_shift == 0.5 and model.log_odds_shift == 0.0
    X = np.random.default_rng(2).normal(size=(100, 6))
    plain = LightGBMModel(model.booster, log_odds_shift=0.5)
    np.testing.assert_allclose(served.predict_proba(X), plain.predict_proba(X), atol=1e-12)
