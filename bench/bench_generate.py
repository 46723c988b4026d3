"""Benchmark world generation: seconds, rows per table, rows/s and peak memory per preset.

Each preset runs in its own subprocess so that its peak resident memory
(`ru_maxrss`) is its own. The store goes to a temporary folder that is removed after.

    .venv/bin/python bench/bench_generate.py --presets tiny,small,medium
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path


def run_one(preset: str, seed: int) -> dict:
    """Generate one preset in this process and report its figures."""
    from offerrank.world.generate import generate_world

    with tempfile.TemporaryDirectory(prefix="offerrank-bench-") as tmp:
        db = Path(tmp) / "world.db"
        summary = generate_world(db, preset=preset, seed=seed)
        size_mb = db.stat().st_size / 1e6
    rows = summary.rows
    total = sum(rows.values())
    return {
        "preset": preset,
        "seconds": round(summary.seconds, 2),
        "rows": rows,
        "rows_total": total,
        "rows_per_s": round(total / summary.seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "store_mb": round(size_mb, 1),
    }


def report(result: dict) -> str:
    rows = ", ".join(f"{k} {v:,}" for k, v in result["rows"].items())
    return (
        f"{result['preset']:>7}: {result['seconds']:8.1f} s  {result['rows_per_s']:>9,} rows/s"
        f"  peak {result['peak_rss_mb']:8.1f} MB  store {result['store_mb']:8.1f} MB\n"
        f"         {rows}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,small", help="comma-separated preset names")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: one preset, JSON out
    parser.add_argument("--json", action="store_true", help="print one JSON line per preset")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.seed)))
        return 0
    for preset in [p.strip() for p in args.presets.split(",") if p.strip()]:
        child = subprocess.run(
            [sys.executable, __file__, "--one", preset, "--seed", str(args.seed)],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            print(f"{preset}: failed\n{child.stderr}", file=sys.stderr)
            return 1
        result = json.loads(child.stdout.strip().splitlines()[-1])
        print(json.dumps(result) if args.json else report(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
