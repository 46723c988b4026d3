"""Load on `offerrank serve`: requests/s, p50/p99 latency and errors at N concurrent clients,
with the store idle and while `offerrank run` writes the next day.

    .venv/bin/python bench/bench_serve.py --db /tmp/medium.db [--workers 2] [--clients 32]
        [--seconds 20] [--run-date 2026-02-17]

The store is copied first (the run phase writes to the copy). Without a completed run the
copy gets one for 2026-02-16. The server runs as `offerrank serve` in its own processes,
the client is one asyncio process (aiohttp on uvloop) on the same machine: both share its
cores, so the client's own cost is part of what is measured. Each client asks for the
offers of random customers of the served date, with the default date (the newest
complete run), as a channel would. Every answer's list is checked afterwards against the
store: a list shorter or longer than what the store holds for that customer and date
counts as a partial list. The CPU time per request of the server processes and of the
client is printed too: on a busy machine it says what the throughput would be on idle
cores (cores / (server + client CPU per request)). Goal on 2 cores: >= 1,000 requests/s,
p99 <= 25 ms, 0 errors, 0 partial lists, in both phases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import orjson

from bench_common import source_store

OFFERRANK = [sys.executable, "-m", "offerrank"]


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    server_cpu: float = 0.0  # CPU seconds of the server processes during the phase
    client_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    answers: list[tuple[int, str, int]] = field(default_factory=list)  # customer, date, n

    def row(self, partial: int) -> str:
        n = len(self.latencies) + sum(self.errors.values())
        lat = sorted(self.latencies) or [float("nan")]
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        errs = sum(self.errors.values())
        per = 1e6 / max(n, 1)
        return (
            f"{self.name:18s} {n:9d} {n / self.seconds:10.0f} {p50:8.2f} {p99:8.2f}"
            f" {errs:7d} {partial:8d} {self.server_cpu * per:10.0f} {self.client_cpu * per:10.0f}"
            f"  {dict(self.errors) if errs else ''}"
        )


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its descendants so far, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


class WalWatch(threading.Thread):
    """The largest size the store's write-ahead log reaches while it runs (sampled)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.peak, self.stop = path, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            with contextlib.suppress(OSError):  # no WAL file at this moment
                self.peak = max(self.peak, self.path.stat().st_size)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def newest_complete(db: Path) -> str | None:
    con = sqlite3.connect(db)
    try:
        row = con.execute(
            "SELECT run_date FROM pipeline_runs WHERE step = 'evaluate'"
            " AND status IN ('success', 'skipped') ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    return None if row is None else str(row[0])


def expected_counts(db: Path, days: set[str]) -> dict[tuple[int, str], int]:
    con = sqlite3.connect(db)
    try:
        marks = ", ".join("?" * len(days))
        rows = con.execute(
            f"SELECT customer_id, run_date, COUNT(*) FROM recommendations"
            f" WHERE run_date IN ({marks}) GROUP BY customer_id, run_date",
            sorted(days),
        ).fetchall()
    finally:
        con.close()
    return {(c, d): n for c, d, n in rows}


async def load(
    url: str,
    server_pid: int,
    customers: list[int],
    clients: int,
    phase: Phase,
    until: Callable[[], bool],
    rate: float | None = None,
) -> None:
    """`clients` concurrent clients, one request at a time each, until `until()` is true.

    Without `rate`, each client sends its next request as soon as it has the answer (the
    most the server and client can do together). With `rate` (requests/s in total), each
    client sends on a fixed schedule of rate / clients per second, and a request's latency
    counts from its scheduled time, so time spent waiting behind a slow answer is counted
    too (no coordinated omission).
    """
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=10)
    start = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client(seed: int) -> None:
            rng = random.Random(seed)
            gap = clients / rate if rate else 0.0
            due = start + gap * seed / clients
            while not until():
                customer = rng.choice(customers)
                if rate:
                    wait = due - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    t0, due = due, due + gap
                else:
                    t0 = time.perf_counter()
                try:
                    async with session.get(f"{url}/v1/customers/{customer}/offers") as resp:
                        body = await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    phase.errors[type(exc).__name__] += 1
                    continue
                if status != 200:
                    phase.errors[str(status)] += 1
                    continue
                phase.latencies.append(time.perf_counter() - t0)
                data = orjson.loads(body)
                phase.answers.append((customer, data["run_date"], len(data["offers"])))

        c0, s0 = time.process_time(), cpu_seconds(server_pid)
        await asyncio.gather(*(client(i) for i in range(clients)))
        phase.seconds = time.perf_counter() - start
        phase.client_cpu = time.process_time() - c0
        phase.server_cpu = cpu_seconds(server_pid) - s0


def start_server(db: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            *OFFERRANK,
            "--db",
            str(db),
            "--quiet",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not start within 60 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", type=Path, help="a generated store (copied first)")
    ap.add_argument("--preset", default="small", help="generated when --db is not given")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the idle phase")
    ap.add_argument("--run-date", help="date the run phase runs (default: served date + 1)")
    ap.add_argument(
        "--rate",
        type=float,
        help="requests/s in total, on a schedule (default: as fast as answered)",
    )
    ap.add_argument("--run-nice", type=int, default=0, help="nice value of the run phase's run")
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    work = Path(tempfile.mkdtemp(prefix="offerrank-bench-serve-"))
    db = work / "store.db"
    shutil.copy(source_store(args.db, args.preset, work), db)
    served = newest_complete(db)
    if served is None:
        served = "2026-02-16"
        subprocess.run(
            [*OFFERRANK, "--db", str(db), "--quiet", "run", "--date", served], check=True
        )
    run_date = args.run_date or (date.fromisoformat(served) + timedelta(days=1)).isoformat()
    con = sqlite3.connect(db)
    customers = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT customer_id FROM recommendations WHERE run_date = ?", (served,)
        )
    ]
    con.close()
    port = free_port()
    server = start_server(db, port, args.workers)
    url = f"http://127.0.0.1:{port}"

    def measure(phase: Phase, until: Callable[[], bool], rate: float | None) -> Phase:
        asyncio.run(load(url, server.pid, customers, args.clients, phase, until, rate))
        return phase

    try:
        warm_end = time.perf_counter() + 2
        measure(Phase("warm-up"), lambda: time.perf_counter() > warm_end, None)
        idle_end = time.perf_counter() + args.seconds
        idle = measure(Phase("store idle"), lambda: time.perf_counter() > idle_end, args.rate)
        t0 = time.perf_counter()
        nice = ["nice", "-n", str(args.run_nice)]
        run = subprocess.Popen(
            [*nice, *OFFERRANK, "--db", str(db), "--quiet", "run", "--date", run_date, "--force"]
        )
        wal = WalWatch(Path(f"{db}-wal"))
        wal.start()
        during = measure(Phase(f"run {run_date}"), lambda: run.poll() is not None, args.rate)
        wal.stop.set()
        run_seconds = time.perf_counter() - t0
        run_code = run.wait()
    finally:
        server.terminate()
        server.wait(timeout=30)
    counts = expected_counts(db, {d for p in (idle, during) for _, d, _ in p.answers})
    mode = f"{args.rate:,.0f} requests/s scheduled" if args.rate else "closed loop"
    print(
        f"\n{len(customers)} customers served on {served}; {args.workers} server workers;"
        f" {args.clients} clients (one asyncio process, aiohttp) on {os.cpu_count()} cores;"
        f" {mode}; run nice {args.run_nice}"
    )
    print(
        f"{'phase':18s} {'requests':>9s} {'req/s':>10s} {'p50 ms':>8s} {'p99 ms':>8s}"
        f" {'errors':>7s} {'partial':>8s} {'server µs':>10s} {'client µs':>10s}"
    )
    for phase in (idle, during):
        partial = sum(counts.get((c, d)) != n for c, d, n in phase.answers)
        print(phase.row(partial))
    days = Counter(d for _, d, _ in during.answers)
    print(
        f"run {run_date}: exit {run_code}, {run_seconds:.1f} s under load, WAL up to"
        f" {wal.peak / 2**20:,.0f} MB;"
        f" answers by served date during it: {dict(days)}"
    )
    print(f"mean latency idle {statistics.fmean(idle.latencies) * 1000:.2f} ms")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
