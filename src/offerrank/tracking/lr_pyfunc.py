"""The logistic regression as an MLflow pyfunc, logged as code (no pickle).

MLflow copies this file into the logged model and runs it when the model is loaded; the
coefficients come from the artifact `coefficients` (offerrank's own JSON, plus the
log-odds shift), so `predict` returns the calibrated redemption probability, exactly as
offerrank scores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel


class CalibratedLogisticRegression(PythonModel):
    def load_context(self, context: Any) -> None:
        data = json.loads(Path(context.artifacts["coefficients"]).read_text())
        self.mean = np.asarray(data["mean"], dtype=np.float64)
        self.scale = np.asarray(data["scale"], dtype=np.float64)
        self.coef = np.asarray(data["coef"], dtype=np.float64)
        self.intercept = float(data["intercept"])
        self.shift = float(data.get("log_odds_shift", 0.0))

    def predict(self, context, model_input, params=None):
        # (untyped on purpose: MLflow reads a type hint here as an input schema)
        X = np.asarray(model_input, dtype=np.float64)
        z = np.full(X.shape[0], self.intercept)
        for j in range(X.shape[1]):  # the same order of sums as offerrank's own scoring
            z += ((X[:, j] - self.mean[j]) / self.scale[j]) * self.coef[j]
        z = z + self.shift
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -500, 500))))


mlflow.models.set_model(CalibratedLogisticRegression())
