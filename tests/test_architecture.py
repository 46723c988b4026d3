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


DOC = ROOT / "docs" / "architecture.md"


def test_the_guide_names_the_engine_operations_of_the_protocol() -> None:
    import inspect
    import re

    from offerrank.engines.base import Engine

    section = DOC.read_text().split("## The engine interface", 1)[1]
    listed = section.split("data:", 1)[1].split("(this list", 1)[0]
    named = re.findall(r"`(\w+)`", listed)
    methods = [
        name
        for name, member in inspect.getmembers(Engine, inspect.isfunction)
        if not name.startswith("_")
    ]
    assert sorted(named) == sorted(methods)


def test_the_guide_s_layer_table_is_the_declared_layering() -> None:
    import re

    from offerrank.config import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in declared["contracts"] if c["type"] == "layers")["layers"]
    expected = [
        sorted(package.strip().removeprefix("offerrank.") for package in layer.split("|"))
        for layer in layers
    ]
    table = DOC.read_text().split("| layer | packages | what they are |", 1)[1]
    rows = [line for line in table.splitlines() if re.match(r"\| \d+ \|", line)]
    # | n | `a` \| `b` | what they are |: the packages are the cells between the first two
    # and the last (an escaped bar separates packages of one layer)
    documented = [sorted(re.findall(r"`(\w+)`", "|".join(row.split("|")[2:-2]))) for row in rows]
    assert documented == expected


# Where each word of "Words with one meaning" (docs/architecture.md) may name a function.
ONE_MEANING = {
    "serve": ["offerrank/cli/delivery.py"],
    "candidates": ["offerrank/pipeline/steps/candidates.py"],
    "rank": ["offerrank/pipeline/steps/rank.py"],
    "evaluate": ["offerrank/pipeline/steps/evaluate.py"],
}


def test_each_word_with_one_meaning_names_one_function() -> None:
    import ast

    src = ROOT / "src"
    found: dict[str, list[str]] = {word: [] for word in ONE_MEANING}
    for path in sorted((src / "offerrank").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in found:
                found[node.name].append(path.relative_to(src).as_posix())
    assert found == ONE_MEANING
    curves = sorted(p.relative_to(src).as_posix() for p in src.rglob("curves.py"))
    assert curves == ["offerrank/monitoring/curves.py"]
    guide = DOC.read_text().split("## Words with one meaning", 1)[1].split("\n## ", 1)[0]
    for word in ONE_MEANING:
        assert f"| `{word}` |" in guide
