"""A Spark run on a machine set up wrongly stops at once with one line naming what is wrong
(the input folder, Java, the master, the Spark settings), exit 1 for the environment and 2
for configuration, and leaves the store as it was. No case starts a JVM."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from offerrank.config import Settings
from store_shell import shell

GOLDEN = Path(__file__).parent / "fixtures" / "golden_store.sql"
USAGE, ENVIRONMENT = 2, 1
SPARK_ENV = ("JAVA_HOME", "OFFERRANK_SPARK_MASTER", "OFFERRANK_SPARK_CONF", "OFFERRANK_SPARK_INPUT")


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark-env")
    shell(root / "good.db", GOLDEN.read_text())
    (root / "a-file").write_text("not a folder\n")
    (root / "no-java").mkdir()
    (root / "missing-input.toml").write_text(f'spark_input = "{root / "absent"}"\n')
    return root


def cases(root: Path) -> dict[str, tuple[dict[str, str], list[str], int, str]]:
    """name: (environment, extra arguments before the command, exit code, a needle)."""
    port = closed_port()
    return {
        "input folder missing (setting)": (
            {}, ["--config", str(root / "missing-input.toml")], USAGE, "spark_input",
        ),
        "input folder missing (variable)": (
            {"OFFERRANK_SPARK_INPUT": str(root / "absent")}, [], USAGE, "$OFFERRANK_SPARK_INPUT",
        ),
        "input is a file": (
            {"OFFERRANK_SPARK_INPUT": str(root / "a-file")}, [], USAGE, "not a folder",
        ),
        "JAVA_HOME names nothing": (
            {"JAVA_HOME": str(root / "no-java")}, [], ENVIRONMENT, "$JAVA_HOME",
        ),
        "no java on PATH": (
            {"PATH": str(root / "no-java")}, [], ENVIRONMENT, "java is not on PATH",
        ),
        "master unreachable": (
            {"OFFERRANK_SPARK_MASTER": f"spark://127.0.0.1:{port}"},
            [], ENVIRONMENT, f"$OFFERRANK_SPARK_MASTER spark://127.0.0.1:{port}",
        ),
        "master malformed": (
            {"OFFERRANK_SPARK_MASTER": "spark://127.0.0.1"}, [], USAGE, "spark://HOST:PORT",
        ),
        "settings malformed": (
            {"OFFERRANK_SPARK_CONF": "spark.executor.memory=1g; spark.driver.memory"},
            [], USAGE, "$OFFERRANK_SPARK_CONF",
        ),
    }  # fmt: skip


def run_spark(root: Path, env: dict[str, str], before: list[str]) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in SPARK_ENV}
    environment.update(env)
    command = [sys.executable, "-m", "offerrank", "--db", str(root / "good.db"), *before]
    command += ["run", "--date", "2024-04-01", "--engine", "spark"]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)


def fingerprint(db: Path) -> str:
    """The store's content (every table's rows, the run log too), not its file's bytes:
    opening a store may switch its journal mode, which is no change of what it holds."""
    con = sqlite3.connect(db)
    try:
        return hashlib.sha256("\n".join(con.iterdump()).encode()).hexdigest()
    finally:
        con.close()


@pytest.mark.parametrize("case", list(cases(Path("/"))))
def test_a_bad_spark_environment_is_one_line(place: Path, case: str) -> None:
    env, before, code, needle = cases(place)[case]
    store = fingerprint(place / "good.db")
    done = run_spark(place, env, before)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code, (case, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), (case, done.stderr)
    assert needle in lines[0], (case, lines[0])
    assert fingerprint(place / "good.db") == store, case


def test_the_input_setting_wins_over_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from offerrank.engines.spark.inputs import spark_input

    monkeypatch.delenv("OFFERRANK_SPARK_INPUT", raising=False)
    assert spark_input(Settings()) is None  # the store
    monkeypatch.setenv("OFFERRANK_SPARK_INPUT", str(tmp_path / "from-env"))
    found = spark_input(Settings())
    assert found is not None and found.location == str(tmp_path / "from-env")
    assert found.origin == "$OFFERRANK_SPARK_INPUT"
    found = spark_input(Settings(spark_input="s3a://lake/contract"))
    assert found is not None and found.location == "s3a://lake/contract"
    assert found.origin == "spark_input" and found.local is None
    with pytest.raises(ValueError, match="spark_input"):
        Settings(spark_input="  ")


def test_master_urls() -> None:
    from offerrank.engines.spark.environment import standalone_addresses
    from offerrank.errors import UsageError

    assert standalone_addresses("local[2]", "x") == []
    assert standalone_addresses("yarn", "x") == []
    assert standalone_addresses("spark://a:7077,b.example:7078", "x") == [
        ("a", 7077),
        ("b.example", 7078),
    ]
    for bad in ("spark://a", "spark://a:99999", "local[two]", "mesos://a:5050"):
        with pytest.raises(UsageError, match="x"):
            standalone_addresses(bad, "x")
