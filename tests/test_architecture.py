"""The architecture guide (docs/architecture.md) is true of the code: the declared
layering (pyproject.toml, `[tool.importlinter]`) holds (no package imports a layer above
it, the engines do not import each other, steps reach an engine only through its registry
and interface, no sibling modules import each other in a cycle), the guide names the
Engine operations and layers the code has, and each word with one meaning is defined only
where the guide says."""

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


def _resolve(dotted: str) -> object:
    """`offerrank.<dotted>`: the longest importable module prefix, then attributes."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(["offerrank", *parts[:cut]]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found
    raise ModuleNotFoundError(dotted)


def test_each_word_with_one_meaning_is_defined_only_where_the_guide_says() -> None:
    import ast
    import re

    section = DOC.read_text().split("## Words with one meaning", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| ")]
    words = {}
    for word, means, _ in rows[1:]:  # the header row first
        word = word.strip()
        owner = next(
            name for name in re.findall(r"`([\w.]+)`", means) if "." in name
        )  # the first dotted name of "means" is where the word is defined
        words[word] = owner
    assert set(words) == {"`serve`", "`candidates`", "`rank`", "`evaluate`", "curves"}
    # every name the table gives exists
    for name in re.findall(r"`([a-z_]+(?:\.[A-Za-z_]+)+)`", section):
        _resolve(name)
    src = ROOT / "src"
    modules = sorted((src / "offerrank").rglob("*.py"))
    for word, owner in words.items():
        if word.startswith("`"):  # a function name: defined in the owner's module only
            name = word.strip("`")
            assert owner.endswith(f".{name}"), (word, owner)
            defined = sorted(
                path.relative_to(src).with_suffix("").as_posix().replace("/", ".")
                for path in modules
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
            )
            assert defined == ["offerrank." + owner.rsplit(".", 1)[0]], word
        else:  # a module name: one module of that name, the owner
            named = sorted(
                path.relative_to(src).with_suffix("").as_posix().replace("/", ".")
                for path in modules
                if path.stem == word
            )
            assert named == ["offerrank." + owner], word
