"""Compiled tree inference: a LightGBM model as native code (lleaves, through LLVM).

Scoring a day's pool is millions of rows through every tree; LightGBM's own predictor
walks the trees node by node in an interpreter loop, the compiled one runs the same
comparisons as straight-line machine code, several times faster. A model is compiled
once (tens of seconds for a few hundred trees) and the library is kept beside its
artifact, named by the model text's checksum, so later runs load it in a fraction of a
second.

The compiled predictor is used only after it is proved equal to LightGBM's: both score
probe rows spread over every feature's range and around every split threshold, and any
difference above 1e-9 in log-odds (summation order differs in the last bits) keeps
LightGBM's predictor, with the reason.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

TOLERANCE = 1e-9
PROBE_ROWS = 4096


class Compiled:
    """A compiled model's raw log-odds, the same contract as `Booster.predict(raw_score)`."""

    def __init__(self, model: Any):
        self._model = model

    def raw_log_odds(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._model.predict(np.ascontiguousarray(X, np.float64), n_jobs=2))


def compile_booster(booster: lgb.Booster, folder: Path) -> tuple[Compiled | None, str]:
    """The booster compiled (or loaded from `folder`), checked equal to it on probe rows;
    (None, why) when the compiler is missing, fails, or disagrees."""
    try:
        import lleaves
    except ImportError:
        return None, "warning: lleaves is not installed: LightGBM's own predictor scores"
    text = booster.model_to_string()
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    model_file = folder / f"compiled-{digest}.txt"
    library = folder / f"compiled-{digest}.so"
    if not model_file.exists():
        tmp = model_file.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(model_file)
    try:
        model = lleaves.Model(model_file=str(model_file))
        model.compile(raw_score=True, cache=str(library))
    except Exception as exc:  # a compiler error: LightGBM still scores correctly
        library.unlink(missing_ok=True)
        return None, f"warning: compiling the model failed ({type(exc).__name__}: {exc})"
    compiled = Compiled(model)
    probe = probe_rows(booster)
    expected = np.asarray(booster.predict(probe, raw_score=True, num_threads=2))
    worst = float(np.max(np.abs(compiled.raw_log_odds(probe) - expected)))
    if not worst <= TOLERANCE:
        library.unlink(missing_ok=True)
        return None, f"warning: the compiled model differs from LightGBM's by {worst:.3g}: not used"
    return compiled, f"compiled model checked equal to LightGBM's (max difference {worst:.1g})"


def probe_rows(booster: lgb.Booster, n: int = PROBE_ROWS, seed: int = 0) -> np.ndarray:
    """Rows that reach every leaf often: each feature drawn from its split thresholds
    (just below, at and just above each) and uniformly over its range."""
    rng = np.random.default_rng(seed)
    dump = booster.dump_model()
    thresholds: list[list[float]] = [[] for _ in range(booster.num_feature())]

    def walk(node: dict[str, Any]) -> None:
        if "split_feature" in node:
            thresholds[node["split_feature"]].append(float(node["threshold"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in dump["tree_info"]:
        walk(tree["tree_structure"])
    X = np.empty((n, len(thresholds)))
    for j, cuts in enumerate(thresholds):
        if not cuts:
            X[:, j] = rng.normal(size=n)
            continue
        cuts_arr = np.array(cuts)
        near = rng.choice(cuts_arr, size=n) + rng.choice([-1e-9, 0.0, 1e-9], size=n)
        spread = rng.uniform(cuts_arr.min() - 1, cuts_arr.max() + 1, size=n)
        X[:, j] = np.where(rng.random(n) < 0.5, near, spread)
    return X
