"""Every benchmark script still imports against the current code.

The scripts in bench/ are run by hand, so a renamed module or function breaks them
silently; importing each one (its `main()` runs only as `__main__`) catches that in the
suite, naming the script.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_every_bench_script_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    scripts = sorted(BENCH.glob("*.py"))
    assert scripts, f"no scripts in {BENCH}"
    # As when run: their own folder first on sys.path (they import each other by name);
    # a copy, so that what the scripts add to it is undone after the test.
    monkeypatch.setattr(sys, "path", [str(BENCH), *sys.path])
    failed = []
    for script in scripts:
        spec = importlib.util.spec_from_file_location(script.stem, script)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, script.stem, module)
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit):  # a script that exits on import fails too
            failed.append(f"bench/{script.name}:\n{traceback.format_exc(limit=-2)}")
    assert not failed, "bench scripts that no longer import:\n" + "\n".join(failed)
