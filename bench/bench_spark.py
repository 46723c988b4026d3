"""DuckDB against Spark (local mode) on one generated world: a retraining day, then a day
without retraining, each engine on its own copy of the store, both in one run.

    .venv/bin/python bench/bench_spark.py --preset medium [--db PATH] [--repeat 1]
        [--spark-conf "spark.driver.memory=4g"] [--engines duckdb,spark]

Every run is `offerrank run --date D` in a fresh process, as a user runs it. For each
engine and day it prints the median wall time, the peak resident memory of the driver
(the Python process that holds the served lists and samples), of the JVM (in local mode
the driver JVM is the executors too) and of the whole process tree (with the Python
workers), pool pairs scored per second, the Spark / DuckDB time ratio, each step's
seconds, and whether the two engines served the same lists (customer, offer, rank and
score to 1e-9 of every recommendation).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench_common import source_store

DAYS = ("2026-02-16", "2026-02-17")  # a Monday (retraining), then a day without


@dataclass
class Peak:
    """Resident memory peaks of a process tree, sampled twice a second from /proc."""

    driver: int = 0
    jvm: int = 0
    total: int = 0
    samples: list[int] = field(default_factory=list)

    def watch(self, process: subprocess.Popen) -> threading.Thread:
        def loop() -> None:
            while process.poll() is None:
                self.sample(process.pid)
                time.sleep(0.5)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        return thread

    def sample(self, root: int) -> None:
        tree, children = {root}, _children()
        todo = [root]
        while todo:
            for child in children.get(todo.pop(), ()):
                tree.add(child)
                todo.append(child)
        jvm = total = 0
        for pid in tree:
            rss, name = _rss(pid)
            total += rss
            jvm += rss if name == "java" else 0
            if pid == root:
                self.driver = max(self.driver, rss)
        self.jvm, self.total = max(self.jvm, jvm), max(self.total, total)


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            out.setdefault(parent, []).append(int(entry))
    return out


def _rss(pid: int) -> tuple[int, str]:
    """Resident bytes and command name of a process (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0, ""
    name = next((ln.split()[1] for ln in lines if ln.startswith("Name:")), "")
    kb = next((int(ln.split()[1]) for ln in lines if ln.startswith("VmRSS:")), 0)
    return kb * 1024, name


@dataclass
class Result:
    seconds: float
    peak: Peak
    steps: dict[str, float]
    pool: float


def run_day(db: Path, day: str, engine: str, spark_conf: str) -> Result:
    env = {**os.environ, "OFFERRANK_SPARK_CONF": spark_conf}
    command = [sys.executable, "-m", "offerrank", "--db", str(db), "-q", "run"]
    command += ["--date", day, "--engine", engine, "--force"]
    peak = Peak()
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watcher = peak.watch(process)
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"{engine} {day} failed:\n{err.decode()[-3000:]}")
    con = sqlite3.connect(db)
    try:
        run_id = con.execute(
            "SELECT run_id FROM pipeline_runs WHERE run_date = ?"
            " ORDER BY started_at DESC, rowid DESC",
            (day,),
        ).fetchone()[0]
        steps = dict(
            con.execute(
                "SELECT step, duration_s FROM pipeline_runs WHERE run_id = ? ORDER BY rowid",
                (run_id,),
            )
        )
        pool = con.execute(
            "SELECT value FROM run_metrics WHERE run_date = ? AND metric = ?",
            (day, "candidate_pool_size"),
        ).fetchone()
    finally:
        con.close()
    return Result(seconds, peak, steps, pool[0] if pool else 0.0)


def served(db: Path, day: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT customer_id, offer_id, rank, score FROM recommendations"
            " WHERE run_date = ? ORDER BY customer_id, rank",
            (day,),
        ).fetchall()
    finally:
        con.close()


def same_lists(a: list[tuple], b: list[tuple]) -> bool:
    return len(a) == len(b) and all(
        x[:3] == y[:3] and abs(x[3] - y[3]) <= 1e-9 for x, y in zip(a, b, strict=True)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="small", choices=("small", "medium", "large"))
    ap.add_argument("--db", type=Path, help="reuse this generated store (never written)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--spark-conf", default="spark.driver.memory=4g")
    ap.add_argument("--engines", default="duckdb,spark")
    args = ap.parse_args()
    engines = args.engines.split(",")
    work = Path(tempfile.mkdtemp(prefix="offerrank-bench-spark-"))
    source = source_store(args.db, args.preset, work)
    results: dict[tuple[str, str], list[Result]] = {}
    stores: dict[str, Path] = {}
    for i in range(args.repeat):
        for engine in engines:
            folder = work / f"{engine}{i}"
            folder.mkdir()
            stores[engine] = folder / "metro.db"
            shutil.copy(source, stores[engine])
            for day in DAYS:
                result = run_day(stores[engine], day, engine, args.spark_conf)
                results.setdefault((day, engine), []).append(result)
                print(f"  {engine} {day}: {result.seconds:.1f} s", flush=True)
    world = args.db.name if args.db else f"preset {args.preset}"
    print(f"\n{world}, {args.repeat} repeat(s), Spark local[2], {args.spark_conf}")
    print(
        f"{'day':<11} {'engine':<7} {'median s':>9} {'driver GB':>10} {'JVM GB':>7}"
        f" {'all GB':>7} {'pairs/s':>9} {'ratio':>6}  steps (s)"
    )
    for day in DAYS:
        base = statistics.median(r.seconds for r in results[(day, engines[0])])
        for engine in engines:
            runs = results[(day, engine)]
            secs = statistics.median(r.seconds for r in runs)
            gb = [max(getattr(r.peak, k) for r in runs) / 2**30 for k in ("driver", "jvm", "total")]
            steps = "  ".join(f"{k} {v:.1f}" for k, v in runs[-1].steps.items())
            print(
                f"{day:<11} {engine:<7} {secs:9.1f} {gb[0]:10.2f} {gb[1]:7.2f} {gb[2]:7.2f}"
                f" {runs[-1].pool / secs:9.0f} {secs / base:6.1f}  {steps}"
            )
        if len(engines) > 1:
            lists = [served(stores[e], day) for e in engines]
            same = all(same_lists(lists[0], other) for other in lists[1:])
            print(f"{'':<11} lists identical across engines: {same} ({len(lists[0])} rows)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
