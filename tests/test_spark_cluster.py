"""A daily run on a real Spark cluster: a standalone master and two workers started from
the installed PySpark on this machine (no Docker), with `offerrank run --engine spark`
pointed at it by `OFFERRANK_SPARK_MASTER`. Its recommendations are the DuckDB engine's
on the same store, and both workers' executors ran tasks of it.

The cluster is kept small (daemons of 256 MB, executors of 512 MB, one core each) and is
stopped whatever happens: each process is the leader of its own process group, and the
whole group (with the executors a worker started) is killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import offerrank

pytestmark = pytest.mark.spark
TRAIN_DATE, RUN_DATE = "2026-02-16", "2026-02-17"
STARTUP_TIMEOUT_S = 180
RUN_TIMEOUT_S = 1200

if shutil.which("java") is None:
    pytest.skip("Spark needs a Java runtime (`java` is not on PATH)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env() -> dict[str, str]:
    """This environment without Spark settings of its own, with this checkout's offerrank
    first on the path of every Python the cluster starts (its executors import it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERRANK_")}
    source = str(Path(offerrank.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    env["PYSPARK_PYTHON"] = sys.executable
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    return env


@dataclass
class Cluster:
    url: str
    master_log: Path
    work_dirs: list[Path]
    processes: list[subprocess.Popen] = field(default_factory=list)  # each leads a group
    peaks: dict[str, tuple[int, int]] = field(default_factory=dict)  # what: (JVMs, all)

    def start(self, args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
        with open(log, "wb") as out:
            process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.processes.append(process)
        return process

    def rss(self, leaders: list[subprocess.Popen] | None = None) -> tuple[int, int]:
        """Resident memory, in bytes, of the JVMs and of every process (JVMs and Python
        workers) in the process groups of `leaders` (default: all of them)."""
        groups = {p.pid for p in (self.processes if leaders is None else leaders)}
        java = total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) not in groups:
                    continue
                status = (entry / "status").read_text()
            except (OSError, ProcessLookupError):
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    size = int(line.split()[1]) * 1024
                    total += size
                    java += size if status.startswith("Name:\tjava\n") else 0
        return java, total

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for process in self.processes:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self.rss()[1]:
                time.sleep(0.3)
        for process in self.processes:
            process.wait()


def wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the cluster did not come up: {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    import pyspark

    root = tmp_path_factory.mktemp("cluster")
    spark_class = str(Path(pyspark.__file__).parent / "bin" / "spark-class")
    port = free_port()
    env = {**base_env(), "SPARK_DAEMON_MEMORY": "256m"}
    running = Cluster(f"spark://127.0.0.1:{port}", root / "master.log", [])
    try:
        master = ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1"]
        running.start(
            [spark_class, *master, "--port", str(port), "--webui-port", "0"],
            running.master_log,
            env,
        )
        wait_for(lambda: "Starting Spark master" in running.master_log.read_text(), "master")
        for n in (1, 2):
            work = root / f"worker{n}"
            work.mkdir()
            running.work_dirs.append(work)
            worker = ["org.apache.spark.deploy.worker.Worker", running.url, "--cores", "1"]
            worker += ["--memory", "1g", "--webui-port", "0", "--work-dir", str(work)]
            running.start([spark_class, *worker], root / f"worker{n}.log", env)
        wait_for(
            lambda: running.master_log.read_text().count("Registering worker") == 2,
            "two workers registered",
        )
        yield running
    finally:
        running.stop()


def run(cluster: Cluster | None, db: Path, date: str, engine: str, config: Path) -> None:
    """`offerrank run` in its own process (and process group, killed on a timeout)."""
    env = base_env()
    if cluster is not None:
        env["OFFERRANK_SPARK_MASTER"] = cluster.url
        env["OFFERRANK_SPARK_CONF"] = ";".join(
            [
                "spark.driver.host=127.0.0.1",
                "spark.driver.bindAddress=127.0.0.1",
                "spark.driver.memory=1g",
                "spark.executor.memory=512m",
                "spark.executor.cores=1",
            ]
        )
    command = [sys.executable, "-m", "offerrank", "--db", str(db), "--config", str(config)]
    command += ["run", "--date", date, "--engine", engine]
    out = db.parent / f"run-{date}-{engine}.log"
    if cluster is None:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return
    daemons = list(cluster.processes)
    process = cluster.start(command, out, env)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        for what, leaders in (("cluster", daemons), ("run", [process]), ("both", None)):
            now, peak = cluster.rss(leaders), cluster.peaks.get(what, (0, 0))
            cluster.peaks[what] = (max(now[0], peak[0]), max(now[1], peak[1]))
        time.sleep(1)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    assert process.wait() == 0, out.read_text()[-3000:]


def recommendations(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT customer_id, offer_id, rank, score, model_version FROM recommendations"
            " WHERE run_date = ? ORDER BY customer_id, rank",
            (RUN_DATE,),
        ).fetchall()
    finally:
        con.close()


def test_a_day_on_the_cluster_serves_what_duckdb_serves(
    cluster: Cluster, tiny_world: Path, tmp_path: Path
) -> None:
    config = tmp_path / "offerrank.toml"
    config.write_text("[offerrank]\nmin_train_positives = 0\nbootstrap_samples = 20\n")
    duck, spark = tmp_path / "duck", tmp_path / "spark"
    duck.mkdir()
    shutil.copy(tiny_world, duck / "metro.db")
    run(None, duck / "metro.db", TRAIN_DATE, "duckdb", config)  # the model both then use
    shutil.copytree(duck, spark)
    run(None, duck / "metro.db", RUN_DATE, "duckdb", config)
    started = time.monotonic()
    run(cluster, spark / "metro.db", RUN_DATE, "spark", config)
    print(f"\nthe run on the cluster: {time.monotonic() - started:.0f} s; peak RSS (GiB)")
    for what, (java, total) in cluster.peaks.items():
        print(f"  {what}: JVMs {java / 2**30:.2f}, with Python {total / 2**30:.2f}")

    expected, served = recommendations(duck / "metro.db"), recommendations(spark / "metro.db")
    assert len(expected) > 0 and len(served) == len(expected)
    for (c, o, r, score, model), (c2, o2, r2, score2, model2) in zip(expected, served, strict=True):
        assert (c2, o2, r2, model2) == (c, o, r, model)
        assert abs(score2 - score) <= 1e-9
    # both workers ran an executor of the run, and each executor finished tasks
    assert "Registered app offerrank" in cluster.master_log.read_text()
    for work in cluster.work_dirs:
        logs = list(work.glob("app-*/*/stderr"))
        assert logs and any("Finished task" in log.read_text() for log in logs), work
