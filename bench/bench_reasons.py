"""What the reasons cost in a daily run, and how they compare with TreeSHAP's.

    .venv/bin/python bench/bench_reasons.py --db /tmp/medium.db [--date 2026-02-17]
        [--repeat 3] [--shap-sample 5000]

On a store with a complete run of the date (default: its newest complete run without
retraining), made with the DuckDB engine, it rebuilds the rank step's inputs as that run
had them (its recorded settings, its model and calibration shift, its number of
partitions): the pool and its features partition by partition (`Engine.pool_partitions`),
then each partition's scores, ranks and served top K (`ranked_lists`, as `rank_partition`
computes them). It then times each part of the reasons (served rows, contributions,
choosing, JSON, and the extra column's insert, on an in-memory SQLite), summed over the
partitions, median of --repeat, against the run's own wall time from `run_metrics`. For a
LightGBM model it also times TreeSHAP (`pred_contrib`) on a sample of served pairs, to
show what exact TreeSHAP for every served pair would cost, and how often its reasons agree
with the path attribution's (a logistic regression's contributions are exact already).
The budget: the reasons within 20 % of a daily run without retraining.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from offerrank.config import Settings
from offerrank.delivery.attribution import leaf_tables_of, served_contributions
from offerrank.delivery.reasons import REASON_COLUMNS
from offerrank.engines.registry import open_engine
from offerrank.errors import OfferrankError, one_line
from offerrank.pipeline.steps.load import history_start
from offerrank.pipeline.steps.rank import rank_job
from offerrank.ranking.partition import (
    RankedPool,
    RankJob,
    ranked_lists,
    served_reasons,
    served_rows,
)
from offerrank.ranking.retrieval import retrieval_of, retrieval_query
from offerrank.store.db import connect_readonly, table_exists, transaction
from offerrank.store.read import metrics, recommendations, runs
from offerrank.store.results.migrations import migrate
from offerrank.store.results.outputs import append_recommendations
from offerrank.training.models import Ranker
from offerrank.training.registry import load_version

BUDGET = 0.20  # of a daily run without retraining
SCORE_TOLERANCE = 1e-9


def stop(message: str, code: int = 1) -> NoReturn:
    """End the bench with one line on stderr."""
    print(f"bench_reasons: {message}", file=sys.stderr)
    sys.exit(code)


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def retrained(store: sqlite3.Connection, run_id: str) -> bool:
    """Whether the run trained a model (its train step ran rather than being skipped)."""
    return runs.step_statuses(store, run_id).get("train") not in (None, "skipped")


def chosen_run(store: sqlite3.Connection, db: Path, day_asked: str | None) -> tuple[str, str]:
    """(run_date, run_id) of the newest complete run of `day_asked`; without it, of the
    newest date whose complete run did not retrain (the budget's kind of day), else of the
    newest complete run."""
    if not table_exists(store, "pipeline_runs"):
        stop(f"{db}: no run log (pipeline_runs): not a store with runs")
    if day_asked is not None:
        found = runs.latest_complete_run(store, day_asked)
        if found is None:
            stop(f"{db}: no complete run of {day_asked}")
        return found
    for day in sorted(runs.latest_run_of_each_date(store), reverse=True):
        found = runs.latest_complete_run(store, day)
        if found is not None and not retrained(store, found[1]):
            return found
    found = runs.latest_complete_run(store)
    if found is None:
        stop(f"{db}: no complete run")
    return found


def run_settings(store: sqlite3.Connection, db: Path, day: str, run_id: str) -> Settings:
    """The settings the run recorded (`run_config`), on this copy of the store: the bench
    ranks with the run's top K, ranking key, serving policy, scorer and features."""
    row = store.execute(
        "SELECT settings_json FROM run_config WHERE run_date = ? AND run_id = ?", (day, run_id)
    ).fetchone()
    if row is None:
        stop(f"{db}: the run {run_id} of {day} recorded no settings (run_config): cannot rebuild")
    try:
        return Settings.model_validate({**json.loads(row[0]), "db_path": str(db)})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        stop(
            f"{db}: this version refuses the settings the run of {day} recorded"
            f" ({exc.error_count()} problem(s), first {where}: {first['msg']})"
        )


@dataclass(frozen=True)
class Day:
    """A complete run's rank inputs, rebuilt, with the run's figures to compare with."""

    db: Path
    day: str
    retrained: bool  # the run trained a model (a retraining day)
    settings: Settings
    figures: dict[str, float]  # the run's step durations, reasons' seconds, shift, partitions
    version: str
    model: Ranker  # as stored (TreeSHAP reads it)
    job: RankJob
    partitions: list[RankedPool]
    pool_seconds: float  # retrieval and features, all partitions
    score_seconds: float  # scoring, ranking and serving, all partitions


REQUIRED = ("calibration_shift_served", "partitions")  # run_metrics the rebuild needs


def rebuild(db: Path, day_asked: str | None) -> Day:
    """The rank step's inputs of the chosen run (`chosen_run`): the engine loaded as on a
    day without retraining, and each partition of the pool ranked as `rank_partition`
    ranks it (kept here: the reasons are timed on it)."""
    store = connect_readonly(db)
    day, run_id = chosen_run(store, db, day_asked)
    run_date = date.fromisoformat(day)
    settings = run_settings(store, db, day, run_id)
    if settings.engine != "duckdb":
        stop(
            f"the run of {day} used the {settings.engine} engine: its identity process would"
            " send whole pools to the driver, so the figures would not be the run's; use a"
            " DuckDB run",
            2,
        )
    figures = metrics.values_of(
        store,
        day,
        [f"duration_{name}_s" for name in runs.RUN_STEPS] + ["duration_reasons_s", *REQUIRED],
    )
    missing = [name for name in REQUIRED if name not in figures]
    if missing:
        stop(f"{db}: the run of {day} recorded no {' and no '.join(missing)} (run_metrics)")
    version = recommendations.served_model(store, day)
    if version is None:
        stop(f"{db}: nothing served on {day}")
    active = load_version(store, version)
    was_retrained = retrained(store, run_id)
    store.close()
    engine = open_engine(settings)
    try:
        engine.load(since=history_start(run_date, settings, retraining=False))
        found = retrieval_of(active.sidecar)
        if found is None:
            stop(f"model {version} carries no learned retrieval: no pool to rebuild")
        retrieval = retrieval_query(run_date, *found, active.features)
        active.model.compile(settings.models_dir / version)  # what the run scored with
        # The leaf tables are left out of the job: they are timed as a part of the reasons.
        shift = figures["calibration_shift_served"]
        columns = retrieval.feature_set.columns
        job = rank_job(engine, active.model, settings, run_date, shift, columns, None)
        ranked, score_seconds = [], 0.0
        t0 = time.perf_counter()
        # The process returns each partition's pool as it is: it is ranked here, and its
        # arrays kept for the timing.
        for pool in engine.pool_partitions(retrieval, int(figures["partitions"]), lambda p: p):
            t, part = timed(ranked_lists, pool, job)
            score_seconds += t
            ranked.append(part)
        pool_seconds = time.perf_counter() - t0 - score_seconds
    finally:
        engine.close()
    return Day(
        db, day, was_retrained, settings, figures, version, active.model, job, ranked,
        pool_seconds, score_seconds,
    )  # fmt: skip


@dataclass(frozen=True)
class Reasons:
    """Each part's seconds (one per repeat, summed over the partitions) and the last
    repeat's results, in the partitions' order."""

    seconds: dict[str, list[float]]
    X: np.ndarray  # the served pairs' features
    contrib: np.ndarray  # their path attributions (REASON_COLUMNS)
    codes: pa.Array  # their reason codes (JSON)


INSERT = "insert (extra column)"  # measured on an in-memory SQLite


def time_reasons(d: Day, repeat: int) -> Reasons:
    """Time each part of the reasons `repeat` times: the leaf tables (built once a day by
    the rank step), then per partition what `rank_partition` times (the served rows, their
    features, contributions, choosing, JSON), then the extra column's cost in the rank
    step's insert (the rows with their codes against the same rows with NULL codes)."""
    seconds: dict[str, list[float]] = {}
    top_k = d.settings.top_k
    for _ in range(repeat):
        t, leaves = timed(leaf_tables_of, d.model)
        took = {"leaf tables (once a day)": t}
        took.update(dict.fromkeys(("served rows", "their features", "contributions"), 0.0))
        took.update(dict.fromkeys(("choose", "JSON"), 0.0))
        X_all, contrib_all, codes_all = [], [], []
        for p in d.partitions:
            t, rows = timed(served_rows, p.cust, p.offer, p.ranks, p.served, top_k)
            took["served rows"] += t
            t, X = timed(p.X.__getitem__, rows)
            took["their features"] += t
            t, contrib = timed(served_contributions, d.job.model, X, REASON_COLUMNS, leaves)
            took["contributions"] += t
            offers = p.served.column("offer_id").to_numpy()
            t, chosen = timed(served_reasons, d.job, X, contrib, offers)
            took["choose"] += t
            t, codes = timed(chosen.as_json)
            took["JSON"] += t
            X_all.append(X)
            contrib_all.append(contrib)
            codes_all.append(codes)
        pairs = zip(d.partitions, codes_all, strict=True)
        with_codes = [p.served.append_column("reason_codes", codes) for p, codes in pairs]
        without = [
            p.served.append_column("reason_codes", pa.nulls(p.served.num_rows, pa.string()))
            for p in d.partitions
        ]
        # A small insert of each first: the first one in a process pays one-time costs.
        for warm_up in (with_codes[:1], without[:1]):
            insert_seconds([part.slice(0, 1000) for part in warm_up], d)
        took[INSERT] = insert_seconds(with_codes, d) - insert_seconds(without, d)
        for name, t in took.items():
            seconds.setdefault(name, []).append(t)
    return Reasons(
        seconds, np.concatenate(X_all), np.concatenate(contrib_all), pa.concat_arrays(codes_all)
    )


def insert_seconds(recs: list[pa.Table], d: Day) -> float:
    """Seconds to add the partitions' served rows to an empty `recommendations` table (the
    store's schema, in an in-memory SQLite) with `append_recommendations`, in one
    transaction as the rank step does."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    migrate(con)
    t0 = time.perf_counter()
    with transaction(con):
        for part in recs:
            append_recommendations(con, d.day, d.version, part)
    seconds = time.perf_counter() - t0
    con.close()
    return seconds


def run_agreement(d: Day, served: pa.Table, codes: pa.Array) -> str:
    """How the rebuilt lists, scores and reasons compare with those the run stored: equal
    when the inputs (the calibration shift among them) are rebuilt as the run had them."""
    stored = recommendations.served_lists_arrow(d.db, d.day)
    ours = served.append_column("reason_codes", codes).sort_by(
        [("customer_id", "ascending"), ("rank", "ascending")]
    )
    if stored.num_rows != ours.num_rows:
        return f"{ours.num_rows:,} served pairs here, {stored.num_rows:,} stored by the run"
    n = max(ours.num_rows, 1)

    def equal(column: str) -> pa.Array:
        return pc.fill_null(pc.equal(ours.column(column), stored.column(column)), False)

    def share(mask: pa.Array) -> float:
        return float(pc.sum(mask.cast(pa.int64())).as_py() or 0) / n

    same_rows = pc.and_(pc.and_(equal("customer_id"), equal("offer_id")), equal("rank"))
    gap = np.abs(ours.column("score").to_numpy() - stored.column("score").to_numpy())
    same_scores = float(np.mean(gap <= SCORE_TOLERANCE)) if gap.size else 1.0
    largest = float(gap.max()) if gap.size else 0.0
    return (
        f"same customer, offer and rank {share(same_rows):.1%}; same score (to"
        f" {SCORE_TOLERANCE:g}) {same_scores:.1%}, largest gap {largest:.1e};"
        f" same reasons {share(equal('reason_codes')):.1%}"
    )


def report(d: Day, r: Reasons, repeat: int, shap_sample: int) -> None:
    served = pa.concat_tables([p.served for p in d.partitions])
    offers = served.column("offer_id").to_numpy()
    n, pool, parts = served.num_rows, sum(p.cust.size for p in d.partitions), len(d.partitions)
    total = sum(statistics.median(v) for v in r.seconds.values())
    steps = [f"duration_{name}_s" for name in runs.RUN_STEPS if name != "train"]
    run_s = sum(d.figures.get(step, 0.0) for step in steps)
    kind = "a retraining day" if d.retrained else "no retraining"
    print(
        f"\n{d.db} {d.day} ({kind}): {n:,} served pairs of a pool of {pool:,} ({parts}"
        f" partition{'s' if parts != 1 else ''}), model {d.version} ({d.model.kind});"
        f" median of {repeat}"
    )
    for name, values in r.seconds.items():
        label = f"{name}, in-memory SQLite" if name == INSERT else name
        print(f"  {label:40s} {statistics.median(values):7.3f} s")
    print(f"  {'reasons, total':40s} {total:7.3f} s  ({n / total:,.0f} pairs/s)")
    if "duration_reasons_s" in d.figures:
        print(
            f"  the run's own duration_reasons_s {d.figures['duration_reasons_s']:.3f} s"
            " (the same parts without the leaf tables and the insert)"
        )
    print(f"  retrieval and features of the pool (reference) {d.pool_seconds:.2f} s")
    print(f"  scoring, ranking and serving the pool (reference) {d.score_seconds:.2f} s")
    print(f"  lists and reasons against the run's: {run_agreement(d, served, r.codes)}")
    if run_s and d.retrained:
        print(
            f"  the run of {d.day}, a retraining day, without its train step: {run_s:.1f} s;"
            f" reasons = {100 * total / run_s:.1f} % of a retraining day's run (the"
            f" {100 * BUDGET:.0f} % budget is for a day without retraining: pass such a --date)"
        )
    elif run_s:
        print(
            f"  the run of {d.day} (no retraining): {run_s:.1f} s (its steps' durations);"
            f" reasons = {100 * total / run_s:.1f} % of it (budget {100 * BUDGET:.0f} %)"
        )
    if d.model.kind == "lightgbm":
        tree_shap(d, r, offers, shap_sample)
    else:
        print(
            f"  TreeSHAP comparison skipped: the model is a {d.model.kind.replace('_', ' ')},"
            " whose contributions (coefficient x standardised value) are exact already"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  the bench's own peak RSS {peak:,.0f} MB (every partition's pool kept; not the run's)")


def tree_shap(d: Day, r: Reasons, offers: np.ndarray, shap_sample: int) -> None:
    """TreeSHAP's cost on a sample of served pairs, and how often its reasons agree with
    the path attribution's."""
    n = offers.size
    k = min(shap_sample, n)
    if k == 0:
        return
    sample = np.random.default_rng(0).choice(n, size=k, replace=False)
    t_shap, shap = timed(lambda: np.asarray(d.model.contributions(r.X[sample]))[:, :-1])
    print(
        f"  TreeSHAP (pred_contrib) on {k:,} served pairs: {t_shap:.2f} s"
        f" = {1000 * t_shap / k:.3f} ms a pair; all {n:,}: ~{t_shap / k * n:,.0f} s"
    )
    X, sample_offers = r.X[sample], offers[sample]
    exact = served_reasons(d.job, X, shap[:, REASON_COLUMNS], sample_offers).codes
    path = served_reasons(d.job, X, r.contrib[sample], sample_offers).codes
    first = np.mean(exact[:, 0] == path[:, 0])
    same = np.mean([set(a[a >= 0]) == set(b[b >= 0]) for a, b in zip(exact, path, strict=True)])
    print(
        f"  reasons from TreeSHAP vs path attribution: first reason equal {first:.1%},"
        f" same set {same:.1%} (sample of {k:,})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument(
        "--date",
        help="a run date of the store (default: its newest complete run without retraining)",
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--shap-sample", type=int, default=5000)
    args = ap.parse_args()
    try:
        d = rebuild(args.db, args.date)
    except OfferrankError as exc:  # a missing or damaged store, a bad setting: one line
        stop(one_line(exc), exc.exit_code)
    report(d, time_reasons(d, args.repeat), args.repeat, args.shap_sample)


if __name__ == "__main__":
    main()
