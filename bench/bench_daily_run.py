"""Daily run on a generated world: wall time per step, peak memory, model quality.

    .venv/bin/python bench/bench_daily_run.py --preset medium [--db PATH] [--repeat 1]

Runs 2026-02-16 (a Monday: retrain; the history cache starts empty, so this run also
fills it), 2026-02-17 (loads the model; warm cache) and 2026-02-17 again with the
history cache off (every table read from SQLite), each in a fresh subprocess so that its
peak resident memory is its own. Targets on 2 cores for `medium`: with retraining < 90 s,
without < 30 s, peak memory < 6 GB, the chosen model's validation AUC within 0.02 of the
oracle AUC.
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
from offerrank.cli.report import HEADLINE

RUN = """
import json, resource, sys, time
from datetime import date
from pathlib import Path
from offerrank.config import Settings
from offerrank.pipeline.daily import run_daily
s = Settings(db_path=Path(sys.argv[1]), artifacts_dir=Path(sys.argv[2]),
             history_cache=sys.argv[4] == "1")
t0 = time.perf_counter()
r = run_daily(s, date.fromisoformat(sys.argv[3]))
manifest = s.cache_dir / "manifest.json" if s.cache_dir else None
cache = json.loads(manifest.read_text())["last_read"] if manifest and manifest.exists() else None
print(json.dumps({"seconds": time.perf_counter() - t0, "metrics": r.metrics, "cache": cache,
                  "steps": [(x.step, x.status, x.duration_s) for x in r.steps],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_once(db: Path, models: Path, day: str, cache: bool) -> tuple[dict, float]:
    """One daily run in a fresh interpreter; returns its result and its own peak RSS in MB."""
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(db), str(models), day, "1" if cache else "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return res, res["peak_mb"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--db", type=Path, help="reuse this generated store (copied first)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="offerrank-bench-"))
    source = source_store(args.db, args.preset, work)
    kinds = (
        ("retrain", "2026-02-16", True),
        ("load", "2026-02-17", True),
        ("load, no cache", "2026-02-17", False),
    )
    results: dict[str, list[dict]] = {kind: [] for kind, _, _ in kinds}
    peaks: dict[str, float] = {kind: 0.0 for kind, _, _ in kinds}
    for i in range(args.repeat):
        db, models = work / f"run{i}.db", work / f"models{i}"
        shutil.copy(source, db)
        for kind, day, cache in kinds:
            res, peak = run_once(db, models, day, cache)
            results[kind].append(res)
            peaks[kind] = max(peaks[kind], peak)
    print(f"\npreset {args.preset}, {args.repeat} repeat(s), 2 cores")
    for kind, runs in results.items():
        secs = statistics.median(r["seconds"] for r in runs)
        each = ", ".join(f"{r['seconds']:.1f}" for r in runs)
        print(f"\n{kind:14s} median {secs:7.2f} s ({each})   peak RSS {peaks[kind]:8.0f} MB")
        for i, (step, status, _) in enumerate(runs[0]["steps"]):
            step_median = statistics.median(r["steps"][i][2] for r in runs)
            print(f"    {step:11s} {status:8s} {step_median:7.2f} s (median)")
        if runs[0].get("cache"):
            c = runs[0]["cache"]
            print(
                f"    history cache: {c['cached_rows']:,} rows from the cache,"
                f" {c['read_rows']:,} from SQLite, {c['full_tables']} tables read whole"
            )
        m = runs[0]["metrics"]
        keys = (*HEADLINE, "train_rows", "eval_customers_at_k")
        print("    " + "  ".join(f"{k}={m[k]:.4g}" for k in keys if k in m))
        pairs = m.get("candidate_pool_size", 0)
        print(
            f"    rank throughput {pairs / max(m.get('duration_rank_s', 1e-9), 1e-9):,.0f} pairs/s"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
