"""Every benchmark script still imports against the current code.

The scripts in bench/ are run by hand, so a renamed module or function breaks them
silently. This test checks imports only: it imports each script (its `main()` runs only
as `__main__`), so a module or name that no longer exists fails here, naming the script.
Whether the scripts call what they import correctly is mypy's check (`[tool.mypy] files`
includes bench/), not this test's. The scripts, and the modules they bring in from their
own folder or from tests/ (which some put on sys.path), are removed from sys.modules
afterwards.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
TESTS = Path(__file__).resolve().parent


def _sibling(module: object) -> bool:
    """Whether a module was loaded from bench/ or tests/ (not from the package or a
    library, which stay imported)."""
    file = getattr(module, "__file__", None)
    return file is not None and Path(file).resolve().parent in (BENCH, TESTS)


def test_every_bench_script_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    scripts = sorted(BENCH.glob("*.py"))
    assert scripts, f"no scripts in {BENCH}"
    # As when run: their own folder first on sys.path (they import each other by name);
    # a copy, so that what the scripts add to it is undone after the test.
    monkeypatch.setattr(sys, "path", [str(BENCH), *sys.path])
    before = dict(sys.modules)
    failed = []
    try:
        for script in scripts:
            spec = importlib.util.spec_from_file_location(script.stem, script)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[script.stem] = module
            try:
                spec.loader.exec_module(module)
            except (Exception, SystemExit):  # a script that exits on import fails too
                failed.append(f"bench/{script.name}:\n{traceback.format_exc(limit=-2)}")
    finally:
        for name, module in list(sys.modules.items()):
            if name in before:
                sys.modules[name] = before[name]  # a script named as a module already there
            elif _sibling(module):
                del sys.modules[name]
    assert not failed, "bench scripts that no longer import:\n" + "\n".join(failed)
