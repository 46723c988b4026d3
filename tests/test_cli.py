"""The command line: one-line errors with exit code 2 for usage, help with examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from offerrank.cli.main import app
from reliability_ledger import LEDGER

ROOT = Path(__file__).resolve().parents[1]


def offerrank(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "offerrank", *args], cwd=cwd, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--date", "2026-13-45"], "not a date"),
        (["run", "--date", "yesterday"], "not a date"),
        (["run", "--dates", "2026-02-16"], "No such option"),
        (["run", "--from", "2026-02-17", "--to", "2026-02-16"], "before --from"),
        (["run"], "give --date"),
        (["run", "--date", "2026-02-16", "--from", "2026-02-01"], "either --date"),
        (["frobnicate"], "No such command"),
        (["--db", "/nonexistent/metro.db", "run", "--date", "2026-02-16"], "store not found"),
    ],
)
def test_bad_command_line_is_one_line_and_exit_2(tmp_path: Path, args, needle) -> None:
    out = (
        offerrank("--db", str(tmp_path / "none.db"), *args)
        if "--db" not in args
        else (offerrank(*args))
    )
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr
    LEDGER.bad_input(f"command line: {' '.join(args)}")


def test_every_command_has_help_with_an_example_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"generate", "import", "export", "run", "features"} <= set(names)
    for name in names:
        out = offerrank(name, "--help")
        assert out.returncode == 0, out.stderr
        assert "Example:" in out.stdout, name
        assert f"offerrank {name}" in readme, f"{name} missing from the README"


def test_features_command_reproduces_the_golden_vectors(tmp_path: Path) -> None:
    import csv
    import sqlite3

    golden = Path(__file__).parent / "fixtures" / "golden_store.sql"
    db = tmp_path / "golden.db"
    with sqlite3.connect(db) as con:
        con.executescript(golden.read_text())
    expected_path = Path(__file__).parent / "fixtures" / "golden_expected.csv"
    expected = list(csv.DictReader(expected_path.open()))
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "customer_id,offer_id\n"
        + "".join(f"{r['customer_id']},{r['offer_id']}\n" for r in expected)
    )
    out = tmp_path / "out.csv"
    res = offerrank(
        "--db",
        str(db),
        "features",
        "--date",
        "2024-04-01",
        "--pairs",
        str(pairs),
        "--out",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    got = list(csv.DictReader(out.open()))
    assert list(got[0])[:3] == ["customer_id", "offer_id", "recency_days"]
    for want, have in zip(expected, got, strict=True):
        for name, value in want.items():
            if name == "as_of":
                continue
            assert float(have[name]) == pytest.approx(float(value), abs=1e-9), name


def test_an_unforeseen_error_is_one_short_line_without_a_library_stack() -> None:
    from offerrank.cli.main import headline

    java = (
        "An error occurred while calling o2148.localCheckpoint.\n"
        ": org.apache.spark.SparkException: Not enough memory to build and broadcast\n"
        "\tat org.apache.spark.sql.errors.QueryExecutionErrors$.x(Errors.scala:2180)\n"
        "\tat java.base/java.lang.Thread.run(Thread.java:840)\n"
    )
    line = headline(RuntimeError(java))
    assert "\n" not in line and "Thread.java" not in line and "Errors.scala" not in line
    assert line.startswith("An error occurred") and "Not enough memory" in line
    assert len(headline(RuntimeError("x" * 2000))) == 500
