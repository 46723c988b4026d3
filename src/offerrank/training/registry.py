"""Versioned model artifacts and the registry table that names the active one.

An artifact is a folder `<models_dir>/<version>/` with the model text (LightGBM's own
format, or JSON coefficients) and `sidecar.json` (kind, training window, features,
validation AUCs, params, drift reference). The registry row keeps the artifact's
SHA-256: a missing, truncated or altered file is detected and never loaded.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from offerrank.errors import OfferrankError
from offerrank.features.registry import CONTRACT_FEATURES, FeatureSet, feature_set_named
from offerrank.store.db import transaction
from offerrank.store.results.outputs import ModelRow, register_model, set_active_model
from offerrank.training.models import Ranker, artifact_name, load_model, write_text


def columns_of(sidecar: dict[str, Any]) -> tuple[str, ...]:
    """A model's feature columns, in its input order, from its sidecar: the contract's 22
    for a model saved before feature sets were recorded."""
    return tuple(sidecar.get("feature_columns") or CONTRACT_FEATURES)


@dataclass
class ActiveModel:
    version: str
    model: Ranker
    sidecar: dict[str, Any]

    @property
    def features(self) -> FeatureSet:
        """The features the model was trained on, in its input order (the contract's 22
        for a model saved before feature sets were recorded)."""
        return feature_set_named(columns_of(self.sidecar))


class ArtifactProblem(OfferrankError):
    """A model's artifact cannot be trusted: a run retrains, `explain` reports it."""


class UnknownModel(ArtifactProblem):
    """A version that the registry does not hold: the caller named it wrong (usage)."""

    exit_code = 2


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def save_model(
    con: sqlite3.Connection,
    models_dir: Path,
    version: str,
    model: Ranker,
    sidecar: dict[str, Any],
    *,
    active: bool = True,
) -> Path:
    """Write the artifact, then register it (as the only active model when `active`) in
    one transaction."""
    folder = models_dir / version
    folder.mkdir(parents=True, exist_ok=True)
    text = model.to_text()
    path = folder / artifact_name(model.kind)
    write_text(path, text)
    sidecar = {
        **sidecar,
        "model_version": version,
        "model_type": model.kind,
        "log_odds_shift": model.log_odds_shift,
        "artifact_sha256": sha256(text),
    }
    write_text(folder / "sidecar.json", json.dumps(sidecar, indent=2, sort_keys=True))
    with transaction(con):
        register_model(
            con,
            ModelRow(
                model_version=version,
                model_type=model.kind,
                trained_for=sidecar["trained_for"],
                artifact_path=str(path),
                sha256=sha256(text),
                val_auc=sidecar.get("val_auc"),
                created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                sidecar_json=json.dumps(sidecar, sort_keys=True),
            ),
            active=active,
        )
    return path


def load_active(con: sqlite3.Connection) -> ActiveModel | None:
    """The active model, verified against its checksum; None when there is none.

    Raises ArtifactProblem when the registry names a model whose file is missing,
    altered or unreadable.
    """
    row = con.execute(
        "SELECT model_version FROM model_registry WHERE is_active = 1"
        " ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    return None if row is None else load_version(con, row[0])


def load_version(con: sqlite3.Connection, version: str) -> ActiveModel:
    """A registered model by version, verified against its checksum (ArtifactProblem if not)."""
    row = con.execute(
        "SELECT model_type, artifact_path, sha256, sidecar_json FROM model_registry"
        " WHERE model_version = ?",
        (version,),
    ).fetchone()
    if row is None:
        raise UnknownModel(f"model {version} is not in the registry (see `offerrank models`)")
    kind, path, digest, sidecar_json = row
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ArtifactProblem(f"model {version}: artifact {path} unreadable ({exc})") from exc
    if sha256(text) != digest:
        raise ArtifactProblem(f"model {version}: artifact {path} does not match its checksum")
    sidecar = json.loads(sidecar_json)
    try:
        model = load_model(kind, text, float(sidecar["log_odds_shift"]))
    except Exception as exc:  # a parse error of a file that matched its checksum
        raise ArtifactProblem(f"model {version}: artifact {path} cannot be loaded ({exc})") from exc
    return ActiveModel(version, model, sidecar)


def activate(con: sqlite3.Connection, version: str) -> ActiveModel:
    """Make a registered version the active model, after checking its artifact loads."""
    model = load_version(con, version)
    with transaction(con):
        set_active_model(con, version)
    return model


@dataclass(frozen=True)
class ModelInfo:
    """One registered version as `offerrank models` lists it."""

    version: str
    kind: str
    trained_for: str
    active: bool
    val_auc: float | None
    val_auc_lr: float | None
    val_auc_lgbm: float | None
    validation_positives: int | None
    train_window: tuple[str, str] | None
    decision: str | None  # the newest event: promoted, refused, activated ...


def list_models(con: sqlite3.Connection) -> list[ModelInfo]:
    """Every registered version, newest first, with its validation figures and the latest
    decision about it."""
    rows = con.execute(
        "SELECT model_version, model_type, trained_for, is_active, val_auc, sidecar_json"
        " FROM model_registry ORDER BY trained_for DESC, created_at DESC"
    ).fetchall()
    events = dict(
        con.execute(
            "SELECT model_version, event FROM model_events e WHERE rowid ="
            " (SELECT MAX(rowid) FROM model_events WHERE model_version = e.model_version)"
        ).fetchall()
    )
    out = []
    for version, kind, trained_for, active, val_auc, sidecar_json in rows:
        sidecar = json.loads(sidecar_json)
        window = sidecar.get("train_window")
        out.append(
            ModelInfo(
                version=version,
                kind=kind,
                trained_for=trained_for,
                active=bool(active),
                val_auc=val_auc,
                val_auc_lr=sidecar.get("val_auc_lr"),
                val_auc_lgbm=sidecar.get("val_auc_lgbm"),
                validation_positives=sidecar.get("validation_positives"),
                train_window=(window[0], window[1]) if window else None,
                decision=events.get(version),
            )
        )
    return out


def features_of(con: sqlite3.Connection, version: str) -> FeatureSet:
    """The features a registered model was trained on, from its sidecar alone (no
    artifact read): the contract's 22 for a model saved before sets were recorded."""
    row = con.execute(
        "SELECT sidecar_json FROM model_registry WHERE model_version = ?", (version,)
    ).fetchone()
    return feature_set_named(columns_of(json.loads(row[0]) if row else {}))
