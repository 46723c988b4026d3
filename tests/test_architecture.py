"""The declared layering (pyproject.toml, `[tool.importlinter]`; docs/architecture.md)
holds: no package imports a layer above it, the engines do not import each other, steps
reach an engine only through its registry and interface, and no sibling modules import
each other in a cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_every_registered_engine_name_is_a_setting_and_back() -> None:
    from offerrank.config import ENGINE_NAMES
    from offerrank.engines.registry import REGISTRY

    assert tuple(REGISTRY) == ENGINE_NAMES
