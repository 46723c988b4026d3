"""A day without retraining, this code against the code before a change, same model.

    .venv/bin/python bench/bench_day.py --db data/worlds/medium.db --date 2026-02-17 \\
        --baseline-src /path/to/worktree-of-previous-commit/src --repeat 3

The store is first run for the day before the date's retraining Monday (`--train-date`,
default the Monday before `--date`) by this code: that model is frozen and both versions
score with it. Each version then gets its own copy of that store (and of the model
folder), runs `--date` once to warm its history cache, and runs it again `--repeat`
times, the versions interleaved (baseline, this, baseline, this, ...), each run a fresh
interpreter whose `offerrank` comes from its own source folder (PYTHONPATH). A rerun of a
date replaces its outputs, as in production; like a next day, it reuses the candidate
recall days and the evaluation already measured.

Printed per version: median wall time, peak resident memory of the run's process tree
(sampled from /proc, bench_generate.TreeMemory), pairs scored per second, the median of
each step, and the quality figures; then how many customers' served lists differ between
the versions (offer, rank and score to 1e-12).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from bench_generate import TreeMemory

RUN = """
import json, sys, time
from datetime import date
from pathlib import Path
from offerrank.config import Settings
from offerrank.pipeline.daily import run_daily
s = Settings(db_path=Path(sys.argv[1]), artifacts_dir=Path(sys.argv[2]), **json.loads(sys.argv[4]))
import resource
marks = []  # the run process's peak so far, as each step starts: where the peak was reached
def mark(name):
    marks.append((name, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
t0 = time.perf_counter()
r = run_daily(s, date.fromisoformat(sys.argv[3]), mark)
mark("end")
print(json.dumps({"ok": r.ok, "seconds": time.perf_counter() - t0, "metrics": r.metrics,
                  "steps": [(x.step, x.status, x.duration_s) for x in r.steps],
                  "marks": marks}))
"""


SETTINGS: dict[str, str] = {}  # --set, for every run


def child(src: Path, db: Path, models: Path, day: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    with TreeMemory() as memory:
        out = subprocess.run(
            [sys.executable, "-c", RUN, str(db), str(models), day, json.dumps(SETTINGS)],
            capture_output=True, text=True, check=False, env=env,
        )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"run failed ({src}): {out.stderr.strip().splitlines()[-3:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_mb"] = memory.peak_kb / 1024
    return result


def lists(db: Path, day: str) -> dict[int, list[tuple]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = con.execute(
            "SELECT customer_id, offer_id, rank, score FROM recommendations WHERE run_date = ?"
            " ORDER BY customer_id, rank",
            (day,),
        ).fetchall()
    out: dict[int, list[tuple]] = {}
    for c, o, r, s in rows:
        out.setdefault(c, []).append((o, r, s))
    return out


def differ(a: dict[int, list[tuple]], b: dict[int, list[tuple]]) -> int:
    def same(x: list[tuple], y: list[tuple]) -> bool:
        return len(x) == len(y) and all(
            p[0] == q[0] and p[1] == q[1] and abs(p[2] - q[2]) <= 1e-12
            for p, q in zip(x, y, strict=True)
        )

    return sum(1 for c in set(a) | set(b) if not same(a.get(c, []), b.get(c, [])))


def show(label: str, done: list[dict]) -> None:
    secs = statistics.median(r["seconds"] for r in done)
    peak = max(r["peak_mb"] for r in done)
    m = done[0]["metrics"]
    pool = m.get("candidate_pool_size") or 0
    each = ", ".join(f"{r['seconds']:.1f}" for r in done)
    print(
        f"  {label:9s} median {secs:6.1f} s ({each})"
        f"  peak {peak / 1024:5.2f} GB  {pool / secs:11,.0f} pairs/s"
    )
    steps = "  ".join(
        f"{step} {statistics.median(r['steps'][i][2] or 0 for r in done):.1f}"
        for i, (step, _, _) in enumerate(done[0]["steps"])
    )
    print(f"    steps (s): {steps}")
    keys = ("candidate_recall", "candidate_pool_size", "partitions", "auc", "precision_at_k",
            "calibration_ratio", "recommendations_written")  # fmt: skip
    print("    " + "  ".join(f"{k}={m[k]:.6g}" for k in keys if m.get(k) is not None))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="a store that ends before --date")
    ap.add_argument("--date", default="2026-02-17")
    ap.add_argument("--train-date", help="the retraining day run first (default: Monday before)")
    ap.add_argument("--baseline-src", type=Path, required=True)
    ap.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--train-only", action="store_true", help="measure the retraining day only")
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a setting for every run, e.g. duckdb_memory_limit=4GB (both versions must know it)",
    )  # fmt: skip
    a = ap.parse_args()
    SETTINGS.update(item.split("=", 1) for item in a.set)
    day = date.fromisoformat(a.date)
    train = a.train_date or (day - timedelta(days=day.weekday() or 7)).isoformat()
    work = Path(tempfile.mkdtemp(prefix="bench_day_", dir=a.workdir))
    frozen, frozen_models = work / "frozen.db", work / "frozen_models"
    shutil.copy(a.db, frozen)
    first = child(a.src, frozen, frozen_models, train)
    steps = "  ".join(f"{step} {sec or 0:.1f}" for step, _, sec in first["steps"])
    grew = "  ".join(f"{name} {mb / 1024:.2f}" for name, mb in first["marks"])
    print(
        f"model trained on {train} by this code: {first['seconds']:.1f} s,"
        f" peak {first['peak_mb'] / 1024:.2f} GB; steps (s): {steps}\n"
        f"  run process's peak (GB) when each step starts: {grew}"
    )
    if a.train_only:
        shutil.rmtree(work, ignore_errors=True)
        return
    versions = {"baseline": a.baseline_src, "this": a.src}
    places = {}
    for label, src in versions.items():
        db, models = work / f"{label}.db", work / f"{label}_models"
        shutil.copy(frozen, db)
        shutil.copytree(frozen_models, models)
        child(src, db, models, a.date)  # warm: history cache filled, as on any later day
        places[label] = (db, models)
    results: dict[str, list[dict]] = {label: [] for label in versions}
    for _ in range(a.repeat):
        for label, src in versions.items():
            results[label].append(child(src, *places[label], a.date))
    print(f"{a.db.name} {a.date} (no retraining), {a.repeat} interleaved repeats:")
    for label, done in results.items():
        show(label, done)
    base, this = (statistics.median(r["seconds"] for r in results[k]) for k in versions)
    found = {label: lists(places[label][0], a.date) for label in versions}
    print(
        f"  speed-up {base / this:.2f}x; customers whose lists differ:"
        f" {differ(found['baseline'], found['this'])} of {len(found['this'])}"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
