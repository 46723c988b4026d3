"""One typed, frozen configuration: defaults here, overridden by a TOML file, then by flags.

Every run records the configuration it used (`Settings.as_json`), so a figure in
`run_metrics` can always be traced back to the knobs that produced it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from offerrank.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_DB = Path("data/metro.db")
DB_ENV = "OFFERRANK_DB"
CONFIG_ENV = "OFFERRANK_CONFIG"
# The compute engines a run can use (`engines.registry` maps each to its implementation).
ENGINE_NAMES: tuple[str, ...] = ("duckdb", "spark")


# The named feature sets of `features/registry.py` (FEATURE_SETS is keyed by these).
FEATURE_SET_NAMES: tuple[str, ...] = ("contract", "history")


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
    train_window_days: int = Field(
        56, ge=7, description="the fewest days of mature impressions a model learns from"
    )
    max_train_window_days: int = Field(
        364, ge=7, description="the most days a model learns from, when positives are few"
    )
    min_train_positives: int = Field(
        3000, ge=0, description="widen the window (by weeks) until training has this many"
    )
    validation_days: int = Field(7, ge=1, description="most recent mature days held out")
    negative_ratio: float = Field(20.0, gt=0, description="negatives kept per positive")
    retrain_weekday: int = Field(0, ge=0, le=6, description="0 = Monday")
    retrain_new_data_share: float = Field(
        0.5,
        ge=0,
        description="retrain when the new mature impressions since the model's window reach"
        " this share of those it learned from (0: never for this reason)",
    )
    seed: int = 42
    promotion_tolerance: float = Field(
        0.005,
        ge=0,
        description="a retrained model is refused when its validation AUC is below the"
        " active model's on the same impressions by more than this",
    )

    # retrieval and ranking
    top_k: int = Field(10, ge=1)
    candidate_recall_target: float = Field(
        0.95,
        gt=0,
        le=1,
        description="retrieval keeps per customer as many pairs as this share of the"
        " validation positives needs (sized when a model is trained)",
    )
    max_candidates_per_customer: int = Field(
        1000, ge=1, description="the most pairs per customer retrieval may keep"
    )
    candidate_recall_warning: float = Field(
        0.8, ge=0, le=1, description="a run whose candidate recall is below this says so"
    )
    partitions: int = Field(
        0, ge=0, description="customer partitions the pool is scored in; 0: from partition_pairs"
    )
    partition_pairs: int = Field(
        2_000_000, ge=1000, description="eligible pairs per partition when partitions = 0"
    )
    duckdb_memory_limit: str | None = Field(
        None,
        description="e.g. '4GB': DuckDB spills beyond it to a folder beside the history"
        " cache (or the system's temporary folder); None: DuckDB's default (80% of memory)",
    )
    feature_set: str = Field(
        "contract",
        description="the named feature set a new model is trained on (features/registry.py:"
        " contract = the 22 of the data contract, history = those and the customer's and the"
        " offer's own coupon history); a model keeps its own set until a retrain replaces it,"
        " and a changed setting is a reason to retrain",
    )
    scorer: str = Field(
        "grid",
        description="how the pool is retrieved: grid (day tables once, NumPy over customers x"
        " offers) or sql (every eligible pair's features in SQL); both give the same pool",
    )

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
    drift_sample: int = Field(
        200_000, ge=1000, description="scored pairs (a hash sample) the drift step compares"
    )

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
    min_evaluation_positives: int = Field(
        100, ge=0, description="fewer positives than this make the evaluation low-confidence"
    )

    lock_timeout_s: float = Field(0.0, ge=0, description="wait for a concurrent run")

    # MLflow tracking of each training (the [mlflow] extra); off unless a URI is set
    mlflow_tracking_uri: str | None = Field(
        None, description="e.g. sqlite:///data/mlflow.db; None: no tracking"
    )
    mlflow_experiment: str = "offerrank"
    mlflow_model_name: str = Field("offerrank-ranker", description="registered model name")

    engine: str = "duckdb"
    spark_input: str | None = Field(
        None,
        description="the Spark engine's input: a folder (or a URI Spark reads, e.g. s3a://...)"
        " of the contract tables as Parquet, as `offerrank export --partition-by-day` writes"
        " them; None: $OFFERRANK_SPARK_INPUT, else the SQLite store (docs/spark.md)",
    )

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, v: str) -> str:
        if v not in ENGINE_NAMES:
            raise ValueError(f"engine must be one of {', '.join(ENGINE_NAMES)}, not {v!r}")
        return v

    @field_validator("spark_input")
    @classmethod
    def _named_input(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or v != v.strip()):
            raise ValueError(f"spark_input must name a folder, without blanks around it, not {v!r}")
        return v

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_size(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", v.strip(), re.I):
            raise ValueError(f"duckdb_memory_limit must be a size such as 4GB or 512MB, not {v!r}")
        return v

    @field_validator("feature_set")
    @classmethod
    def _known_feature_set(cls, v: str) -> str:
        if v not in FEATURE_SET_NAMES:
            raise ValueError(
                f"feature_set must be one of {', '.join(FEATURE_SET_NAMES)}, not {v!r}"
            )
        return v

    @field_validator("scorer")
    @classmethod
    def _known_scorer(cls, v: str) -> str:
        if v not in {"grid", "sql"}:
            raise ValueError(f"scorer must be grid or sql, not {v!r}")
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
        """Where the history cache lives, or None if off: `<db folder>/cache/<db name>-<a
        digest of the store's absolute path>`, so that a moved or copied store starts its
        own cache and two stores never share one."""
        if not self.history_cache:
            return None
        where = hashlib.sha256(str(self.db_path.resolve()).encode()).hexdigest()[:10]
        return self.db_path.parent / "cache" / f"{self.db_path.stem}-{where}"

    def as_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


def load_settings(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Defaults, then the TOML file (`--config` or $OFFERRANK_CONFIG), then explicit overrides.

    `db_path` also honours $OFFERRANK_DB when neither the file nor a flag sets it. Values
    are checked strictly (`top_k = true` or `history_cache = "no"` is refused, not
    coerced); any problem is a UsageError (exit code 2) naming the file and key, or the
    option, and what is wrong.
    """
    values: dict[str, Any] = {}
    origin: dict[str, str] = {"db_path": "the default store"}  # for messages: who set what
    if os.environ.get(DB_ENV):
        values["db_path"], origin["db_path"] = Path(os.environ[DB_ENV]), f"${DB_ENV}"
    path = config_file or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if path is not None:
        for key, value in read_config(path).items():
            values[key], origin[key] = value, f"{path}: {key} ="
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key], origin[key] = value, option_name(key)
    for key in PATH_KEYS & values.keys():
        if isinstance(values[key], str):
            values[key] = Path(values[key])
    try:
        settings = Settings.model_validate(values, strict=True)
    except ValidationError as exc:
        raise UsageError("; ".join(_problem(e, origin) for e in exc.errors())) from None
    if settings.db_path.is_dir():
        raise UsageError(
            f"{origin['db_path']} {settings.db_path}: a folder, not a store file"
            " (name the file, e.g. data/metro.db)"
        )
    return settings


PATH_KEYS = {"db_path", "artifacts_dir", "reports_dir"}


def option_name(key: str) -> str:
    """The command-line option that sets `key` (`top_k` is `--top-k`, `db_path` `--db`)."""
    return "--db" if key == "db_path" else "--" + key.replace("_", "-")


def read_config(path: Path) -> dict[str, Any]:
    """The settings of a TOML file: its `[offerrank]` table, or its top level without one."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    if "offerrank" not in data:
        return data
    section, stray = data["offerrank"], sorted(k for k in data if k != "offerrank")
    if not isinstance(section, dict):
        raise UsageError(f"{path}: offerrank must be a table ([offerrank])")
    if stray:
        raise UsageError(
            f"{path}: {', '.join(stray)} outside the [offerrank] table; move it inside or remove it"
        )
    return section


def _problem(error: Any, origin: dict[str, str]) -> str:
    """One pydantic error as `<file>: <key> = <value>: <what is wrong>`, or as
    `--<option> <value>: <what is wrong>`."""
    key = str(error["loc"][0]) if error["loc"] else ""
    where = origin.get(key, f"{key} =")
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(key, list(Settings.model_fields), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"{where.removesuffix(' =')}: unknown setting{hint}"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error["input"] if where.startswith("-") else json.dumps(error["input"], default=str)
    return f"{where} {value}: {message}"
