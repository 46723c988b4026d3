"""The two rankers, their calibration and their artifacts (text, never pickle).

Both models learn on negatively downsampled data, so their raw odds are inflated by
1 / kept_negative_rate. `log_odds_shift = ln(kept_negative_rate)` is added to the raw
log-odds at prediction time, which turns scores back into redemption probabilities on
the real class balance (King & Zeng's prior correction).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from offerrank.progress import lightgbm_callback, progress_task
from offerrank.training.compiled import Compiled, compile_booster


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


class Ranker(Protocol):
    kind: str
    log_odds_shift: float

    def raw_log_odds(self, X: np.ndarray) -> np.ndarray: ...
    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...
    def compile(self, folder: Path) -> str: ...
    def contributions(self, X: np.ndarray) -> np.ndarray: ...
    def to_text(self) -> str: ...


def predict_proba(model: Ranker, X: np.ndarray) -> np.ndarray:
    """Calibrated redemption probability (downsampling undone)."""
    return sigmoid(model.raw_log_odds(X) + model.log_odds_shift)


@dataclass
class LogisticModel:
    """Standardised logistic regression kept as plain numbers: mean, scale, coefficients."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    log_odds_shift: float = 0.0
    kind: str = "logistic_regression"

    def raw_log_odds(self, X: np.ndarray) -> np.ndarray:
        """Summed feature by feature, in a fixed order: a row's score is then bit for bit
        the same whatever batch it is scored in (a BLAS product's rounding depends on the
        batch size), so chunked scoring and a single pair's explanation agree exactly."""
        z = np.full(X.shape[0], self.intercept, dtype=np.float64)
        for j in range(X.shape[1]):
            z += ((X[:, j] - self.mean[j]) / self.scale[j]) * self.coef[j]
        return z

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return predict_proba(self, X)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Coefficient times standardised value per feature, then the bias column (log-odds)."""
        per_feature = ((X - self.mean) / self.scale) * self.coef
        bias = np.full((X.shape[0], 1), self.intercept + self.log_odds_shift)
        return np.hstack([per_feature, bias])

    def compile(self, folder: Path) -> str:
        """Nothing to compile: a sum over 22 features is already fast."""
        return ""

    def to_text(self) -> str:
        return json.dumps(
            {
                "mean": self.mean.tolist(),
                "scale": self.scale.tolist(),
                "coef": self.coef.tolist(),
                "intercept": self.intercept,
            }
        )

    @classmethod
    def from_text(cls, text: str, log_odds_shift: float) -> LogisticModel:
        d = json.loads(text)
        return cls(
            np.asarray(d["mean"]),
            np.asarray(d["scale"]),
            np.asarray(d["coef"]),
            float(d["intercept"]),
            log_odds_shift,
        )


@dataclass
class LightGBMModel:
    booster: lgb.Booster
    log_odds_shift: float = 0.0
    kind: str = "lightgbm"
    # A compiled predictor proved equal to the booster (`training.compiled`), or None.
    compiled: Compiled | None = field(default=None, repr=False, compare=False)

    def raw_log_odds(self, X: np.ndarray) -> np.ndarray:
        if self.compiled is not None:
            return self.compiled.raw_log_odds(X)
        return np.asarray(self.booster.predict(X, raw_score=True, num_threads=2))

    def compile(self, folder: Path) -> str:
        """Score with native code from now on when it is proved equal; says what happened."""
        self.compiled, note = compile_booster(self.booster, folder)
        return note

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to Spark's executors) without the compiled library, a local file."""
        return {**self.__dict__, "compiled": None}

    def __copy__(self) -> LightGBMModel:
        """A copy in this process keeps the compiled predictor (only pickling drops it)."""
        return dataclasses.replace(self)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return predict_proba(self, X)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions per feature, then the expected value column (log-odds)."""
        contrib = np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=2))
        contrib[:, -1] += self.log_odds_shift
        return contrib

    def to_text(self) -> str:
        return str(self.booster.model_to_string())

    @classmethod
    def from_text(cls, text: str, log_odds_shift: float) -> LightGBMModel:
        return cls(lgb.Booster(model_str=text), log_odds_shift)


def fit_logistic(X: np.ndarray, y: np.ndarray, seed: int, c: float = 1.0) -> LogisticModel:
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    with progress_task("logistic regression", total=1) as advance:
        lr.fit((X - mean) / scale, y)
        advance()
    return LogisticModel(mean, scale, lr.coef_[0].copy(), float(lr.intercept_[0]))


LGBM_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "min_sum_hessian_in_leaf": 1.0,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "max_bin": 255,
    "num_threads": 2,
    "verbose": -1,
    "deterministic": True,
    "force_row_wise": True,
}


def fit_lightgbm(
    X: np.ndarray, y: np.ndarray, seed: int, max_rounds: int = 400
) -> tuple[LightGBMModel, dict[str, Any]]:
    """Early stopping on an inner stratified holdout of the training split.

    Leaves and minimum leaf size shrink with the number of positives, so that a store
    with a few hundred positives gets a small, strongly regularised model rather than
    one that memorises them; the validation AUC then decides against LR.
    """
    n_pos = int(y.sum())
    params = dict(LGBM_PARAMS, seed=seed)
    params["num_leaves"] = int(np.clip(n_pos // 40, 4, 31))
    params["min_data_in_leaf"] = int(np.clip(len(y) // 200, 20, 200))
    stratify = y if 2 <= n_pos <= len(y) - 2 else None
    X_fit, X_stop, y_fit, y_stop = train_test_split(
        X, y, test_size=0.15, random_state=seed, stratify=stratify
    )
    fit_set = lgb.Dataset(X_fit, y_fit, free_raw_data=True)
    stop_set = lgb.Dataset(X_stop, y_stop, reference=fit_set)
    with progress_task("LightGBM rounds (early stopping)", total=max_rounds) as advance:
        booster = lgb.train(
            params,
            fit_set,
            num_boost_round=max_rounds,
            valid_sets=[stop_set],
            callbacks=[lgb.early_stopping(50, verbose=False), lightgbm_callback(advance)],
        )
    params["best_iteration"] = booster.best_iteration
    rounds = max(booster.best_iteration, 10)
    with progress_task("LightGBM rounds (final fit)", total=rounds) as advance:
        booster = lgb.train(
            {k: v for k, v in params.items() if k != "best_iteration"},
            lgb.Dataset(X, y),
            num_boost_round=rounds,
            callbacks=[lightgbm_callback(advance)],
        )
    return LightGBMModel(booster), params


def validation_auc(model: Ranker, X: np.ndarray, y: np.ndarray) -> float | None:
    if y.size == 0 or y.min() == y.max():
        return None
    return float(roc_auc_score(y, model.raw_log_odds(X)))


@dataclass
class Candidate:
    model: Ranker
    val_auc: float | None
    params: dict[str, Any] = field(default_factory=dict)


def load_model(kind: str, text: str, log_odds_shift: float) -> Ranker:
    if kind == "lightgbm":
        return LightGBMModel.from_text(text, log_odds_shift)
    if kind == "logistic_regression":
        return LogisticModel.from_text(text, log_odds_shift)
    raise ValueError(f"unknown model kind {kind!r}")


def artifact_name(kind: str) -> str:
    return "model.txt" if kind == "lightgbm" else "model.json"


def write_text(path: Path, text: str) -> None:
    """Write atomically: a temporary file renamed into place."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
