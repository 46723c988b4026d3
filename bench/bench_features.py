"""Benchmark: SQL features on DuckDB against the pandas baseline, on a realistic store.

Scoring: loads the store as the daily run does (orders since D - 105), takes the pairs
the daily run scores - on a generated world (it has the `sim_world` table) the eligible
pairs of the retrieval rules (`offerrank.ranking.retrieval.eligible_sql`), on the synthetic
store every active offer on D x customers it targets (capped) - checks that both engines
give the same values, and prints median times, rows/s, the speed ratio and peak memory.
Training: on the whole store, a batch of the impressions of the last 56 mature days,
each as of its shown_date (the window plan), against the per-date pandas loop.

Example:
    .venv/bin/python bench/synthetic_store.py --db /tmp/bench.db
    .venv/bin/python bench/bench_features.py --db /tmp/bench.db --date 2026-02-16 --repeat 3
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Hashable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from offerrank.config import Settings  # noqa: E402
from offerrank.engines.base import SqlQuery  # noqa: E402
from offerrank.engines.duckdb.engine import DuckDBEngine  # noqa: E402
from offerrank.engines.duckdb.features import choose_plan, compute_features  # noqa: E402
from offerrank.engines.duckdb.tables import connect_store  # noqa: E402
from offerrank.features.plans import WINDOW_PLAN  # noqa: E402
from offerrank.features.registry import FEATURE_COLUMNS  # noqa: E402
from offerrank.progress import use_reporter  # noqa: E402
from offerrank.ranking.retrieval import eligible_sql  # noqa: E402
from offerrank.store.contract import INPUT_TABLES  # noqa: E402
from pandas_features import pandas_features  # noqa: E402

CANDIDATES_SQL = """
SELECT c.customer_id, o.offer_id, CAST($day AS DATE) AS as_of
FROM customers AS c
JOIN offers AS o
    ON o.start_date <= CAST($day AS DATE) AND o.end_date >= CAST($day AS DATE)
    AND (o.target_business_type IS NULL OR o.target_business_type = c.business_type)
"""
SCORING_SINCE_DAYS = 105  # what the daily run reads: the lookback window and a margin
TRAINING_SQL = """
SELECT customer_id, offer_id, shown_date AS as_of
FROM impressions
WHERE shown_date >= CAST($day AS DATE) - $first AND shown_date < CAST($day AS DATE) - $last
"""


def peak_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time over `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def is_generated_world(db: Path) -> bool:
    """The world generator leaves its `sim_world` table; the synthetic store has none."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        found = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sim_world'").fetchall()
    return bool(found)


def world_candidates(con: duckdb.DuckDBPyConnection, db: Path, day: date) -> pa.Table:
    """The pairs the daily run's retrieval chooses from: the eligibility rules of the day."""
    engine = DuckDBEngine(Settings(db_path=db), con)
    everyone = con.sql("SELECT customer_id FROM customers").to_arrow_table()
    found = engine.scoped_pairs(SqlQuery(eligible_sql(), {"as_of": day}), everyone)
    print(f"eligible pairs on {day} (the retrieval rules): {found.num_rows:,}")
    as_of = pa.array(np.full(found.num_rows, np.datetime64(day, "D")), pa.date32())
    return pa.table(
        {"customer_id": found["customer_id"], "offer_id": found["offer_id"], "as_of": as_of}
    )


def candidate_pairs(con: duckdb.DuckDBPyConnection, day: date, cap: int) -> pa.Table:
    pairs = con.sql(CANDIDATES_SQL, params={"day": day}).to_arrow_table()
    print(f"eligible pairs on {day}: {pairs.num_rows:,}", end="")
    if pairs.num_rows > cap:
        keep = np.sort(np.random.default_rng(0).choice(pairs.num_rows, cap, replace=False))
        pairs = pairs.take(keep)
        print(f" (capped to {cap:,})", end="")
    print()
    return pairs


def pandas_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The engine's typed tables as pandas frames with datetime64 dates (not timed)."""
    frames = {}
    for table in INPUT_TABLES:
        df = con.table(table.name).df()
        for col in table.columns:
            if col.kind == "date":
                df[col.name] = pd.to_datetime(df[col.name])
        frames[table.name] = df
    return frames


def max_abs_diff(ours: pa.Table, theirs: pd.DataFrame) -> float:
    diffs = [
        np.nanmax(np.abs(ours.column(c).to_numpy() - theirs[c].to_numpy(dtype=float)))
        for c in FEATURE_COLUMNS
    ]
    return float(max(diffs))


class StageClock:
    """A progress reporter that times each feature stage (the labels `track` reports)."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self._stage: str | None = None
        self._since = 0.0

    def start(self, name: str, total: float | None) -> str:
        return name

    def advance(self, task: Hashable, amount: float, label: str | None) -> None:
        if task == "features" and label is not None:
            self._stage, self._since = label, time.perf_counter()
        elif task == "features" and self._stage is not None:
            elapsed = time.perf_counter() - self._since
            self.seconds.setdefault(self._stage, []).append(elapsed)
            self._stage, self._since = None, time.perf_counter()

    def finish(self, task: Hashable) -> None:
        self._since = time.perf_counter()  # the last stage is done; the assembly starts

    def run(self, fn: Callable[[], object]) -> None:
        """Run `fn` once, timing its stages and, after the last, the final assembly."""
        with use_reporter(self):
            fn()
        elapsed = time.perf_counter() - self._since
        self.seconds.setdefault("pair_features (+ input order)", []).append(elapsed)

    def report(self, pandas_seconds: float) -> None:
        """Median per stage; the assembly alone bounds the ratio any stage work could reach."""
        medians = {k: statistics.median(v) for k, v in self.seconds.items()}
        print("duckdb stages (median s): " + ", ".join(f"{k} {v:.3f}" for k, v in medians.items()))
        assembly = medians["pair_features (+ input order)"]
        print(
            f"  the final assembly alone takes {assembly:.3f} s: even with every aggregate "
            f"free the ratio could not exceed {pandas_seconds / assembly:.1f}x"
        )


def bench_scoring(con: duckdb.DuckDBPyConnection, pairs: pa.Table, day: date, repeat: int) -> None:
    frames = pandas_tables(con)
    pdf = pairs.select(["customer_id", "offer_id"]).to_pandas()
    t_duck, ours = timed(lambda: compute_features(con, pairs), repeat)
    print(
        f"duckdb  : {t_duck:7.3f} s  {pairs.num_rows / t_duck:12,.0f} rows/s  "
        f"peak {peak_mb():,.0f} MB  ({choose_plan(pairs)} plan)"
    )
    t_window, _ = timed(lambda: compute_features(con, pairs, plan=WINDOW_PLAN), repeat)
    print(f"  (same pairs, window plan forced: {t_window:7.3f} s)")
    t_pd, theirs = timed(lambda: pandas_features(frames, pdf, day), repeat)
    print(
        f"pandas  : {t_pd:7.3f} s  {pairs.num_rows / t_pd:12,.0f} rows/s  peak {peak_mb():,.0f} MB"
    )
    print(
        f"speed-up: {t_pd / t_duck:.1f}x   max |duckdb - pandas| = {max_abs_diff(ours, theirs):.3g}"
    )
    clock = StageClock()
    for _ in range(repeat):
        clock.run(lambda: compute_features(con, pairs))
    clock.report(t_pd)


def pandas_batch(frames: dict[str, pd.DataFrame], pairs: pa.Table) -> pd.DataFrame:
    """The baseline has one as_of per call: loop over the dates, then restore input order."""
    df = pairs.to_pandas()
    df["position"] = np.arange(len(df))
    parts = []
    for as_of, group in df.groupby("as_of", sort=False):
        part = pandas_features(frames, group[["customer_id", "offer_id"]], as_of)
        parts.append(part.set_axis(group["position"].to_numpy()))
    return pd.concat(parts).sort_index()


def bench_training(con: duckdb.DuckDBPyConnection, day: date, repeat: int, pandas: bool) -> None:
    params = {"day": day, "first": 7 + 56, "last": 7}
    pairs = con.sql(TRAINING_SQL, params=params).to_arrow_table()
    n_dates = len(set(pairs.column("as_of").to_pylist()))
    print(f"training batch: {pairs.num_rows:,} impressions over {n_dates} as_of dates")
    t_duck, ours = timed(lambda: compute_features(con, pairs), repeat)
    print(
        f"duckdb  : {t_duck:7.3f} s  {pairs.num_rows / t_duck:12,.0f} rows/s  "
        f"peak {peak_mb():,.0f} MB  ({choose_plan(pairs)} plan)"
    )
    if not pandas:
        return
    frames = pandas_tables(con)
    t_pd, theirs = timed(lambda: pandas_batch(frames, pairs), 1)
    print(f"pandas  : {t_pd:7.3f} s  {pairs.num_rows / t_pd:12,.0f} rows/s  (one call per date)")
    print(
        f"speed-up: {t_pd / t_duck:.1f}x   max |duckdb - pandas| = {max_abs_diff(ours, theirs):.3g}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--date", type=date.fromisoformat, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--cap", type=int, default=2_000_000, help="max eligible pairs (synthetic store only)"
    )
    parser.add_argument(
        "--no-pandas-training", action="store_true", help="skip the per-date pandas loop"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    scoring = connect_store(args.db, since=args.date - timedelta(days=SCORING_SINCE_DAYS))
    print(f"scoring load (since D - {SCORING_SINCE_DAYS}) in {time.perf_counter() - start:.1f} s")
    if is_generated_world(args.db):
        pairs = world_candidates(scoring, args.db, args.date)
    else:
        pairs = candidate_pairs(scoring, args.date, args.cap)
    bench_scoring(scoring, pairs, args.date, args.repeat)
    scoring.close()
    start = time.perf_counter()
    con = connect_store(args.db)
    print(
        f"store loaded in {time.perf_counter() - start:.1f} s "
        f"({con.sql('SELECT COUNT(*) FROM order_items').fetchall()[0][0]:,} order lines)"
    )
    bench_training(con, args.date, args.repeat, pandas=not args.no_pandas_training)


if __name__ == "__main__":
    main()
