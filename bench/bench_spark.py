"""DuckDB against Spark (local mode) on one generated world, both figures in one run.

    .venv/bin/python bench/bench_spark.py --preset small [--db PATH] [--repeat 1]

Two measurements per engine, each in a fresh interpreter so that its peak memory is its
own (for Spark: the Python driver's peak plus the JVM's, from /proc):
- features: the 22 features of every candidate pair of 2026-02-16 (the scoring batch),
  contract tables already loaded;
- daily run: a full `run_daily` for 2026-02-16 (a Monday: retrain) on a copy of the store.
Prints the median wall time, peak memory, rows/s and the Spark / DuckDB time ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_common import source_store

DAY = "2026-02-16"

# Peak resident memory of the driver JVM (local mode: driver and executors), in MB.
JVM_PEAK = """
def JVM_PEAK(spark):
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
"""

FEATURES = (
    JVM_PEAK
    + """
import json, resource, sys, time
from datetime import date
from pathlib import Path
import pyarrow as pa
from offerrank.config import Settings
from offerrank.engines.duckdb.engine import DuckDBEngine
from offerrank.engines.registry import open_engine
from offerrank.ranking.candidates import retrieval_query
db, engine, day = Path(sys.argv[1]), sys.argv[2], date.fromisoformat(sys.argv[3])
s = Settings(db_path=db, history_cache=False, engine=engine)
duck = DuckDBEngine(s)
duck.load()
everyone = duck.con.sql("SELECT customer_id FROM customers").to_arrow_table()
cands = duck.candidates(retrieval_query(day, s), everyone)
pairs = cands.select(["customer_id", "offer_id"]).append_column(
    "as_of", pa.array([day] * cands.num_rows, pa.date32()))
jvm_mb = 0.0
measured = duck if engine == "duckdb" else open_engine(s)
if measured is not duck:
    measured.load()
    measured.spark.table("impression_labels").count()
t0 = time.perf_counter(); out = measured.features(pairs); secs = time.perf_counter() - t0
if engine == "spark":
    jvm_mb = JVM_PEAK(measured.spark)
print(json.dumps({"seconds": secs, "rows": out.num_rows, "jvm_mb": jvm_mb,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
)

DAILY = (
    JVM_PEAK
    + """
import json, resource, sys, time
from datetime import date
from pathlib import Path
from offerrank.config import Settings
from offerrank.pipeline.daily import run_daily
from offerrank.store.db import query_arrow
db, engine, day = Path(sys.argv[1]), sys.argv[2], date.fromisoformat(sys.argv[3])
s = Settings(db_path=db, artifacts_dir=db.parent / "models", reports_dir=db.parent / "reports",
             engine=engine)
t0 = time.perf_counter(); r = run_daily(s, day); secs = time.perf_counter() - t0
jvm_mb = 0.0
if engine == "spark":
    from offerrank.engines.spark.session import get_spark
    jvm_mb = JVM_PEAK(get_spark())
rows = r.metrics.get("candidate_pool_size", 0)
print(json.dumps({"seconds": secs, "rows": rows, "jvm_mb": jvm_mb, "ok": r.ok,
                  "steps": [(x.step, x.status, x.duration_s) for x in r.steps],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
)


def measure(script: str, db: Path, engine: str) -> dict:
    """One measurement in a fresh interpreter; its last stdout line is the JSON result."""
    out = subprocess.run(
        [sys.executable, "-c", script, str(db), engine, DAY],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summary(runs: list[dict]) -> tuple[float, float, float]:
    """Median seconds, peak memory in MB (Python driver + JVM resident peaks) and rows/s."""
    secs = statistics.median(r["seconds"] for r in runs)
    peak = max(r["peak_mb"] + r["jvm_mb"] for r in runs)
    return secs, peak, runs[0]["rows"] / secs if secs else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="small", choices=("small", "medium"))
    ap.add_argument("--db", type=Path, help="reuse this generated store (never written)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument(
        "--features-only", action="store_true", help="skip the daily runs (hours on medium)"
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="offerrank-bench-spark-"))
    source = source_store(args.db, args.preset, work)
    results: dict[tuple[str, str], list[dict]] = {}
    for i in range(args.repeat):
        for engine in ("duckdb", "spark"):
            results.setdefault(("features", engine), []).append(measure(FEATURES, source, engine))
            if args.features_only:
                continue
            folder = work / f"{engine}{i}"
            folder.mkdir()
            db = folder / "metro.db"
            shutil.copy(source, db)
            results.setdefault(("daily run", engine), []).append(measure(DAILY, db, engine))
    print(f"\npreset {args.preset}, {args.repeat} repeat(s), Spark local[2]")
    print(
        f"{'measure':<10} {'engine':<7} {'median s':>9} {'peak MB':>9} {'rows/s':>10} {'ratio':>6}"
    )
    for what in ("features",) if args.features_only else ("features", "daily run"):
        base = summary(results[(what, "duckdb")])[0]
        for engine in ("duckdb", "spark"):
            secs, peak, rate = summary(results[(what, engine)])
            print(f"{what:<10} {engine:<7} {secs:9.2f} {peak:9.0f} {rate:10.0f} {secs / base:6.1f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
