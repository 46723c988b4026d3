"""Benchmark world generation: median seconds, peak memory and rows/s per preset, for this
code and for the code of a baseline revision (default `main`), in one run.

Each generate runs in its own subprocess, so that its peak resident memory is its own:
`peak` is the most the generator and its child processes (the bulk writer) held at
once, sampled from /proc, or the generator's own `ru_maxrss` if that is more. The
baseline is the
baseline revision's `src/` exported with `git archive` into a temporary folder and put
first on the child's `PYTHONPATH`. A preset the baseline does not know (`xlarge`) is
built there from this code's preset values; `harsh` has no baseline. Each store's
content checksum is printed, and whether this code and the baseline generated the same
world. Stores go to a temporary
folder (`--workdir`) and are removed after each run, so only one store exists at a
time; free disk space is printed before each preset.

    .venv/bin/python bench/bench_generate.py --presets tiny,small,medium --repeat 3
    .venv/bin/python bench/bench_generate.py --presets large,xlarge --repeat 1 \\
        --baseline-presets large
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
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class TreeMemory:
    """The peak resident memory of this process and its descendants together, sampled
    from /proc twice a second (a child's `ru_maxrss` is useless here: a child
    spawned from a big parent reports the parent's size)."""

    def __init__(self, period: float = 0.5) -> None:
        import threading

        self.period, self.peak_kb = period, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.peak_kb = max(self.peak_kb, tree_rss_kb(os.getpid()))


def tree_rss_kb(root: int) -> int:
    """Resident kB of `root` and every process below it (Linux /proc, one file each)."""
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry.name)] = int(fields[1])
        rss[int(entry.name)] = int(fields[21]) * page_kb
    total, frontier = 0, [root]
    while frontier:
        pid = frontier.pop()
        total += rss.get(pid, 0)
        frontier += [child for child, ppid in parent.items() if ppid == pid]
    return total


def run_one(preset: str, seed: int, workdir: Path, spec: str | None) -> dict:
    """Generate one preset in this process (the code on `sys.path`) and report its figures."""
    import offerrank
    from offerrank.world.generate import PRESETS, Preset, generate_world

    chosen: str | Preset = preset
    if preset not in PRESETS and spec:  # a preset this code does not define
        known = set(Preset.__dataclass_fields__)
        chosen = Preset(**{k: v for k, v in json.loads(spec).items() if k in known})
    with tempfile.TemporaryDirectory(prefix="offerrank-bench-", dir=workdir) as tmp:
        db = Path(tmp) / "world.db"
        with TreeMemory() as memory:
            summary = generate_world(db, preset=chosen, seed=seed)
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        checksum = content_checksum(db)
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = summary.rows
    return {
        "preset": preset,
        "code": str(Path(offerrank.__file__).parents[1]),
        "seconds": round(summary.seconds, 2),
        "cpu_s": round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 1),
        "rows": rows,
        "rows_total": sum(rows.values()),
        "peak_rss_mb": round(me.ru_maxrss / 1024, 1),
        "peak_tree_mb": round(memory.peak_kb / 1024, 1),
        "store_mb": round(size_mb, 1),
        "checksum": checksum,
    }


CHECKED: tuple[str, ...] = ("customers", "products", "orders", "order_items", "offers")
CHECKED += ("impressions", "redemptions", "sim_impression_truth")


def content_checksum(db: Path) -> str:
    """One SQL pass per table: a sum over every row of its values weighted by row order,
    so that two stores of the same world agree (and differing ones almost never do),
    without reading tens of millions of rows into Python."""
    import hashlib
    import sqlite3

    con = sqlite3.connect(db)
    try:
        h = hashlib.sha256()
        for table in CHECKED:
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            terms = " + ".join(
                f"{i + 1} * (CASE typeof({c}) WHEN 'text' THEN length({c}) + unicode({c})"
                f" + unicode(substr({c}, -1)) ELSE coalesce({c}, -1) END)"
                for i, c in enumerate(cols)
            )
            total = con.execute(
                f"SELECT count(*), total((rowid % 997 + 1) * ({terms})) FROM {table}"
            )
            h.update(repr(total.fetchone()).encode())
        return h.hexdigest()[:16]
    finally:
        con.close()


def export_baseline(ref: str, into: Path) -> Path:
    """The baseline revision's `src/` tree, exported with `git archive` (no worktree)."""
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    return into / "src"


def measure(preset: str, args: argparse.Namespace, src: Path | None) -> list[dict]:
    """`args.repeat` runs of one preset, each in a fresh child process."""
    from offerrank.world.presets import PRESETS

    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    spec = json.dumps({k: v for k, v in vars(PRESETS[preset]).items() if k != "campaigns"})
    runs = []
    for _ in range(args.repeat):
        child = subprocess.run(
            [sys.executable, __file__, "--one", preset, "--seed", str(args.seed)]
            + ["--workdir", str(args.workdir), "--spec", spec],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if child.returncode != 0:
            raise SystemExit(f"{preset} ({src or 'this code'}): failed\n{child.stderr}")
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
    return runs


def summary(runs: list[dict], label: str) -> dict:
    seconds = statistics.median(r["seconds"] for r in runs)
    return {
        "preset": runs[0]["preset"],
        "code": label,
        "runs": len(runs),
        "median_s": seconds,
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "peak_rss_mb": max(max(r["peak_tree_mb"], r["peak_rss_mb"]) for r in runs),
        "peak_generator_mb": max(r["peak_rss_mb"] for r in runs),
        "rows_total": runs[0]["rows_total"],
        "rows_per_s": round(runs[0]["rows_total"] / seconds),
        "store_mb": runs[0]["store_mb"],
        "rows": runs[0]["rows"],
        "checksum": runs[0]["checksum"],
    }


def report(s: dict) -> str:
    return (
        f"{s['preset']:>7} {s['code']:>8}: median {s['median_s']:8.1f} s of {s['runs']}"
        f"  cpu {s['cpu_s']:7.1f} s  {s['rows_per_s']:>10,} rows/s"
        f"  peak {s['peak_rss_mb']:7.0f} MB (generator alone {s['peak_generator_mb']:.0f})"
        f"  store {s['store_mb']:8.0f} MB  {s['rows_total']:,} rows  content {s['checksum']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,small", help="comma-separated preset names")
    parser.add_argument("--repeat", type=int, default=3, help="runs per preset (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--baseline", default="main", help="git revision to compare with")
    parser.add_argument(
        "--baseline-presets",
        default=None,
        help="presets to run on the baseline too (default: all; 'none' for none)",
    )
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--json", action="store_true", help="print one JSON line per result")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: one preset, JSON out
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.seed, args.workdir, args.spec)))
        return 0
    from offerrank.world.presets import PRESETS

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    chosen = args.baseline_presets
    on_baseline = presets if chosen is None else [p for p in chosen.split(",") if p in presets]
    # coupon campaigns are new: the baseline would generate another world under that name
    on_baseline = [p for p in on_baseline if PRESETS[p].campaigns is None]
    with tempfile.TemporaryDirectory(prefix="offerrank-baseline-") as tmp:
        baseline = export_baseline(args.baseline, Path(tmp)) if on_baseline else None
        for preset in presets:
            free = shutil.disk_usage(args.workdir).free / 1e9
            print(f"# {preset}: {free:.0f} GB free in {args.workdir}", file=sys.stderr)
            results = [summary(measure(preset, args, None), "this")]
            if baseline is not None and preset in on_baseline:
                results.append(summary(measure(preset, args, baseline), args.baseline))
            for s in results:
                print(json.dumps(s) if args.json else report(s), flush=True)
            if len(results) == 2:
                same = results[0]["checksum"] == results[1]["checksum"]
                print(f"{preset:>7}: {'the same world' if same else 'ANOTHER WORLD'} on both")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
