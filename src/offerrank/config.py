"""One typed, frozen configuration: defaults here, overridden by a TOML file, then by flags.

Every run records the configuration it used (`Settings.as_json`), so a figure in
`run_metrics` can always be traced back to the knobs that produced it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_DB = Path("data/metro.db")
DB_ENV = "OFFERRANK_DB"
CONFIG_ENV = "OFFERRANK_CONFIG"
# The compute engines a run can use (`engines.registry` maps each to its implementation).
ENGINE_NAMES: tuple[str, ...] = ("duckdb", "spark")


class Settings(BaseModel):
    """All knobs of a daily run. Frozen: pass a modified copy, never mutate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    db_path: Path = DEFAULT_DB
    artifacts_dir: Path | None = Field(
        default=None, description="model artifacts; default: <db folder>/models"
    )
    reports_dir: Path = Path("reports")

    # features
    history_cache: bool = Field(
        True, description="keep checked history as Arrow beside the store (read only new rows)"
    )
    lookback_days: int = Field(90, ge=1)
    label_window_days: int = Field(7, ge=0)

    # training
    train_window_days: int = Field(56, ge=7, description="days of mature impressions used")
    validation_days: int = Field(7, ge=1, description="most recent mature days held out")
    negative_ratio: float = Field(20.0, gt=0, description="negatives kept per positive")
    retrain_weekday: int = Field(0, ge=0, le=6, description="0 = Monday")
    seed: int = 42
    promotion_tolerance: float = Field(
        0.005,
        ge=0,
        description="a retrained model is refused when its validation AUC is below the"
        " active model's on the same impressions by more than this",
    )

    # candidates and ranking
    top_k: int = Field(10, ge=1)
    max_candidates_per_customer: int = Field(40, ge=1)
    popular_per_segment: int = Field(15, ge=0)
    cold_start_offers: int = Field(20, ge=1)

    # ranking key and serving (docs/simulation.md: propensity semantics)
    rank_by: str = Field(
        "probability", description="probability | expected_margin (probability x unit margin)"
    )
    serving: str = Field(
        "greedy", description="greedy | epsilon | plackett_luce: how the served top K is chosen"
    )
    exploration_epsilon: float = Field(
        0.1, ge=0, le=1, description="epsilon serving: share of customers given a random list"
    )
    exploration_temperature: float = Field(
        1.0, gt=0, description="plackett_luce serving: weights are key ** (1 / temperature)"
    )
    serving_seed: int = Field(0, description="seed of the serving draws (mixed with the date)")
    propensity_draws: int = Field(
        1000, ge=10, description="Monte Carlo draws for Plackett-Luce inclusion propensities"
    )

    # explanations: scored pairs whose feature contributions are kept per run
    explain_sample: int = Field(2000, ge=0)

    # drift
    psi_threshold: float = Field(0.2, gt=0)
    wasserstein_threshold: float = Field(0.25, gt=0)
    drift_share_threshold: float = Field(0.3, gt=0, le=1)

    # evaluation
    eval_days: int = Field(7, ge=1)
    eval_k: int = Field(
        2, ge=1, description="k of the @k metrics on logged impressions (see README: Evaluation)"
    )
    bootstrap_samples: int = Field(200, ge=0)

    lock_timeout_s: float = Field(0.0, ge=0, description="wait for a concurrent run")

    # MLflow tracking of each training (the [mlflow] extra); off unless a URI is set
    mlflow_tracking_uri: str | None = Field(
        None, description="e.g. sqlite:///data/mlflow.db; None: no tracking"
    )
    mlflow_experiment: str = "offerrank"
    mlflow_model_name: str = Field("offerrank-ranker", description="registered model name")

    engine: str = "duckdb"

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, v: str) -> str:
        if v not in ENGINE_NAMES:
            raise ValueError(f"engine must be one of {', '.join(ENGINE_NAMES)}, not {v!r}")
        return v

    @field_validator("rank_by")
    @classmethod
    def _known_rank_by(cls, v: str) -> str:
        if v not in {"probability", "expected_margin"}:
            raise ValueError(f"rank_by must be 'probability' or 'expected_margin', not {v!r}")
        return v

    @field_validator("serving")
    @classmethod
    def _known_serving(cls, v: str) -> str:
        if v not in {"greedy", "epsilon", "plackett_luce"}:
            raise ValueError(f"serving must be 'greedy', 'epsilon' or 'plackett_luce', not {v!r}")
        return v

    @property
    def models_dir(self) -> Path:
        return self.artifacts_dir or self.db_path.parent / "models"

    @property
    def cache_dir(self) -> Path | None:
        """Where the history cache lives: `<db folder>/cache/<db name>`, or None if off."""
        return self.db_path.parent / "cache" / self.db_path.stem if self.history_cache else None

    def as_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


def load_settings(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Defaults, then the TOML file (`--config` or $OFFERRANK_CONFIG), then explicit overrides.

    `db_path` also honours $OFFERRANK_DB when neither the file nor a flag sets it.
    """
    values: dict[str, Any] = {}
    if os.environ.get(DB_ENV):
        values["db_path"] = Path(os.environ[DB_ENV])
    path = config_file or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if path is not None:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        values.update(data.get("offerrank", data))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return Settings(**values)
