"""Scale: generate, then the daily run with and without retraining, per preset, for this
code and for the code before a change, with the floor each run is measured against.

    .venv/bin/python bench/bench_scale.py --presets medium,large,xlarge \\
        --stores /data/worlds --baseline-python /path/to/before/.venv/bin/python \\
        --baseline-presets medium,large

For each preset: the store `STORES/PRESET.db` is used when it exists, else generated
there (seed 7; the wall time and the generator's peak memory are printed). Each run is
a fresh interpreter on a fresh copy of the store: 2026-02-16 (a Monday: retraining; the
history cache starts empty, so this run also fills it) and 2026-02-17 (the model loaded,
the cache warm). Printed per run: median wall time, peak resident memory (of the run's
process and its helper processes together, the history reader among them: sampled from
/proc), each step's time, order lines read per second and candidate pairs scored per
second. `--baseline-python` is an interpreter whose `offerrank` is the
code before the change (for example a `git worktree` of the previous commit with its own
virtual environment); it runs the same dates on the same stores.

The floor of a run: one DuckDB scan of the order lines joined to their orders (what any
point-in-time feature must read at least once) and one pass of the run's model over as
many rows as its candidate pool (the least scoring can cost), both measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_generate import TreeMemory

DATES = (("with retraining", "2026-02-16"), ("without retraining", "2026-02-17"))

RUN = """
import json, resource, sys, time
from datetime import date
from pathlib import Path
from offerrank.config import Settings
from offerrank.pipeline.daily import run_daily
s = Settings(db_path=Path(sys.argv[1]), artifacts_dir=Path(sys.argv[2]))
t0 = time.perf_counter()
r = run_daily(s, date.fromisoformat(sys.argv[3]))
print(json.dumps({"ok": r.ok, "seconds": time.perf_counter() - t0, "metrics": r.metrics,
                  "steps": [(x.step, x.status, x.duration_s) for x in r.steps],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

FLOOR = """
import json, sys, time
from pathlib import Path
import duckdb, numpy as np
from offerrank.store.db import connect, query_arrow_many
from offerrank.features.registry import FEATURE_COLUMNS
from offerrank.training.registry import load_active
db, models, pairs = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
(lines,) = query_arrow_many(db, [(
    "SELECT o.customer_id, o.order_date, i.product_id, i.quantity, i.unit_price"
    " FROM order_items i JOIN orders o USING (order_id) WHERE o.order_date >= '2025-11-18'",
    (),
)])
duckdb.sql("SELECT customer_id, product_id, SUM(quantity * unit_price) FROM lines GROUP BY ALL"
           ).fetchall()
scan = time.perf_counter() - t0
with connect(db) as store:
    active = load_active(store)
model = active.model
if hasattr(model, "booster"):
    model.compile(models / active.version)
X = np.random.default_rng(0).random((min(pairs, 2_000_000), len(FEATURE_COLUMNS)))
t0 = time.perf_counter()
model.predict_proba(X)
per_row = (time.perf_counter() - t0) / X.shape[0]
print(json.dumps({"scan_s": scan, "lines_90d": lines.num_rows, "model_s": per_row * pairs,
                  "model": active.version}))
"""


def child(python: str, code: str, *args: str) -> dict:
    """`code` run by `python` in a fresh process; another interpreter than this one gets no
    PYTHONPATH, so that it runs its own code."""
    env = dict(os.environ)
    if python != sys.executable:
        env.pop("PYTHONPATH", None)
    with TreeMemory() as memory:
        out = subprocess.run(
            [python, "-c", code, *args], capture_output=True, text=True, check=False, env=env
        )
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-3:]
        return {"ok": False, "error": " | ".join(tail)}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # the run and its helper processes (the history reader) together
    result["peak_mb"] = max(result.get("peak_mb", 0.0), memory.peak_kb / 1024)
    return result


def store_for(preset: str, stores: Path) -> Path:
    db = stores / f"{preset}.db"
    if db.exists():
        print(f"{preset}: store {db} ({db.stat().st_size / 1e9:.1f} GB)", flush=True)
        return db
    stores.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "offerrank", "--db", str(db), "--quiet", "generate"]
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cmd, "--preset", preset, "--seed", "7"])
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{preset}: generate failed")
    print(
        f"{preset}: generated in {seconds:.0f} s, generator peak {usage.ru_maxrss / 1024:.0f} MB"
        f" (bench/bench_generate.py measures the writer process too),"
        f" store {db.stat().st_size / 1e9:.1f} GB",
        flush=True,
    )
    return db


def order_lines(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return int(con.execute("SELECT MAX(rowid) FROM order_items").fetchone()[0] or 0)


def runs(python: str, source: Path, work: Path, repeat: int) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {kind: [] for kind, _ in DATES}
    for i in range(repeat):
        db, models = work / f"run{i}.db", work / f"models{i}"
        shutil.copy(source, db)
        for kind, day in DATES:
            results[kind].append(child(python, RUN, str(db), str(models), day))
        if i < repeat - 1:
            db.unlink()
            shutil.rmtree(models, ignore_errors=True)
    results["_db"] = [{"db": str(db), "models": str(models)}]
    return results


def show(label: str, results: dict[str, list[dict]], lines: int) -> None:
    for kind, _ in DATES:
        done = [r for r in results[kind] if r.get("ok")]
        if not done:
            errors = {r.get("error", "not ok") for r in results[kind]}
            print(f"  {label:8s} {kind:19s} FAILED: {'; '.join(errors)}")
            continue
        secs = statistics.median(r["seconds"] for r in done)
        peak = max(r["peak_mb"] for r in done)
        m = done[0]["metrics"]
        pool = m.get("candidate_pool_size") or 0
        rank_s = m.get("duration_rank_s") or m.get("duration_serve_s") or 0
        print(
            f"  {label:8s} {kind:19s} median {secs:7.1f} s  peak {peak / 1024:5.2f} GB"
            f"  {lines / secs:12,.0f} lines/s"
            + (f"  {pool / rank_s:10,.0f} pairs/s scored" if pool and rank_s else "")
        )
        steps = "  ".join(
            f"{step} {statistics.median(r['steps'][i][2] or 0 for r in done):.1f}"
            for i, (step, _, _) in enumerate(done[0]["steps"])
        )
        print(f"    steps (s): {steps}")
        print("    " + quality(m))


def quality(m: dict) -> str:
    """The run's figures with their intervals, where it has them."""
    out = []
    for k in (
        "candidate_recall", "auc", "oracle_auc", "val_auc_lr", "val_auc_lgbm", "n_positives",
        "calibration_ratio", "precision_at_k", "precision_at_k_popularity", "margin_lift_at_k",
        "candidate_pool_size", "partitions",
    ):  # fmt: skip
        if m.get(k) is None:
            continue
        lo, hi = m.get(f"{k}_ci_low"), m.get(f"{k}_ci_high")
        out.append(f"{k}={m[k]:.4g}" + (f" [{lo:.4g}, {hi:.4g}]" if lo is not None else ""))
    return "  ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="medium,large,xlarge")
    ap.add_argument("--stores", type=Path, default=Path("data/worlds"))
    ap.add_argument("--baseline-python", help="an interpreter with the code before the change")
    ap.add_argument("--baseline-presets", default="medium,large")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = ap.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {args.repeat} repeat(s)")
    for preset in [p.strip() for p in args.presets.split(",") if p.strip()]:
        source = store_for(preset, args.stores)
        lines = order_lines(source)
        print(f"{preset}: {lines:,} order lines", flush=True)
        codes = [("this", sys.executable)]
        if args.baseline_python and preset in args.baseline_presets.split(","):
            codes.append(("before", args.baseline_python))
        for label, python in codes:
            work = Path(tempfile.mkdtemp(prefix="offerrank-scale-", dir=args.workdir))
            try:
                results = runs(python, source, work, args.repeat)
                show(label, results, lines)
                if label == "this":
                    done = [r for r in results["without retraining"] if r.get("ok")]
                    pool = int(done[0]["metrics"].get("candidate_pool_size", 0)) if done else 0
                    floor = child(
                        sys.executable,
                        FLOOR,
                        results["_db"][0]["db"],
                        results["_db"][0]["models"],
                        str(pool),
                    )
                    if floor.get("scan_s") is not None:
                        print(
                            f"    floor: one scan of 90 days of order lines"
                            f" {floor['scan_s']:.1f} s ({floor['lines_90d']:,} lines), one"
                            f" model pass over {pool:,} pairs {floor['model_s']:.1f} s"
                        )
            finally:
                shutil.rmtree(work, ignore_errors=True)
            sys.stdout.flush()
    print(f"(peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KB)")


if __name__ == "__main__":
    main()
