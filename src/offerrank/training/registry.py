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
from offerrank.store.db import transaction
from offerrank.store.outputs import ModelRow, register_active_model
from offerrank.training.models import Ranker, artifact_name, load_model, write_text


@dataclass
class ActiveModel:
    version: str
    model: Ranker
    sidecar: dict[str, Any]


class ArtifactProblem(OfferrankError):
    """A model's artifact cannot be trusted: a run retrains, `explain` reports it."""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def save_model(
    con: sqlite3.Connection,
    models_dir: Path,
    version: str,
    model: Ranker,
    sidecar: dict[str, Any],
) -> Path:
    """Write the artifact, then register it as the only active model in one transaction."""
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
        register_active_model(
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
        raise ArtifactProblem(f"model {version} is not in the registry")
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
