"""What the reasons cost in a daily run, and how they compare with TreeSHAP's.

    .venv/bin/python bench/bench_reasons.py --db /tmp/medium.db [--date 2026-02-17]
        [--repeat 3] [--shap-sample 5000]

On a store with a completed run of the date (default: its newest), it rebuilds the rank
step's inputs as that run had them (its recorded settings, its model and calibration
shift, its number of partitions): the candidates and their features partition by
partition (`Engine.pool_partitions`), then each partition's scores, ranks and served top K
as `rank_partition` computes them. It then times each part of the reasons (served rows,
contributions, choosing, JSON, and the extra column's insert), summed over the partitions,
median of --repeat, against the run's own wall time from `run_metrics`. It also times
TreeSHAP (`pred_contrib`) on a sample of served pairs, to show what exact TreeSHAP for
every served pair would cost, and how often its reasons agree with the path attribution's.
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
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.config import Settings
from offerrank.delivery.attribution import leaf_tables_of, served_contributions
from offerrank.delivery.reasons import REASON_COLUMNS, Chosen, choose_reasons
from offerrank.engines.base import Engine, Retrieval
from offerrank.engines.registry import open_engine
from offerrank.features.registry import feature_matrix
from offerrank.pipeline.steps.load import history_start
from offerrank.ranking import samples
from offerrank.ranking.margin import ranking_key
from offerrank.ranking.partition import RankJob, predict_in_chunks, served_rows
from offerrank.ranking.rank import rank_within_customer
from offerrank.ranking.retrieval import retrieval_of, retrieval_query
from offerrank.ranking.serving import served_top_k
from offerrank.store.db import connect_readonly, insert_arrow, table_exists, transaction
from offerrank.store.read import metrics, recommendations, runs
from offerrank.store.results.migrations import migrate
from offerrank.store.results.outputs import RECOMMENDATION_COLUMNS
from offerrank.training.calibration import shifted
from offerrank.training.models import Ranker
from offerrank.training.registry import ActiveModel, load_version


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


@dataclass(frozen=True)
class ServedPartition:
    """One partition as `rank_partition` holds it when it starts timing its reasons."""

    cust: np.ndarray
    offer: np.ndarray
    X: np.ndarray
    ranks: np.ndarray
    served: pa.Table  # customer_id, offer_id, rank, score, propensity


def serve_partition(pool: pa.Table, job: RankJob) -> ServedPartition:
    """`rank_partition` up to its reasons: score the partition's pool, rank it by the
    configured key and serve the top K (the same functions, in the same order)."""
    s = job.settings
    cust = pool.column("customer_id").to_numpy().astype(np.int64)
    offer = pool.column("offer_id").to_numpy().astype(np.int64)
    X = feature_matrix(pool, job.columns, order="C")
    scores = predict_in_chunks(job.model, X)
    margin = job.unit_margins(offer) if s.rank_by == "expected_margin" else None
    key = ranking_key(scores, margin, s.rank_by)
    ranks = rank_within_customer(cust, offer, key)
    served = served_top_k(cust, offer, scores, key, s, job.run_date, rank=ranks)
    return ServedPartition(cust, offer, X, ranks, served)


def run_settings(store: sqlite3.Connection, db: Path, day: str, run_id: str) -> Settings:
    """The settings the run recorded (`run_config`), on this copy of the store: the bench
    serves with the run's top K, ranking key, serving policy, scorer and features."""
    row = store.execute(
        "SELECT settings_json FROM run_config WHERE run_date = ? AND run_id = ?", (day, run_id)
    ).fetchone()
    recorded = json.loads(row[0]) if row else {}
    return Settings.model_validate({**recorded, "db_path": str(db)})


def rank_job(
    engine: Engine, active: ActiveModel, settings: Settings, run_date: date, shift: float
) -> tuple[RankJob, Retrieval]:
    """The rank step's job and the candidates step's retrieval for `active` on `run_date`,
    built as `pipeline.steps.rank` and `pipeline.steps.candidates` build them. The leaf
    tables are left out: they are timed as a part of the reasons."""
    s = settings
    found = retrieval_of(active.sidecar)
    if found is None:
        sys.exit(f"model {active.version} carries no learned retrieval: no pool to rebuild")
    retrieval = retrieval_query(run_date, *found, active.features)
    offers = engine.active_offers(run_date)
    facts = engine.offer_facts(offers)
    margins = facts.column("unit_margin").to_numpy(zero_copy_only=False)
    targeted = offers[facts.column("targeted").to_numpy(zero_copy_only=False)]
    sizes = samples.SampleSizes(
        s.explain_sample, samples.IMPORTANCE_SAMPLE, s.drift_sample, s.top_k
    )
    active.model.compile(s.models_dir / active.version)  # what the run scored with
    job = RankJob(
        shifted(active.model, shift), s, run_date, sizes, offers,
        margins.astype(np.float64), targeted, None, retrieval.feature_set.columns,
    )  # fmt: skip
    return job, retrieval


@dataclass(frozen=True)
class Day:
    """A completed run's rank inputs, rebuilt, with the run's figures to compare with."""

    db: Path
    day: str
    settings: Settings
    figures: dict[str, float]  # the run's step durations, reasons' seconds, shift, partitions
    version: str
    model: Ranker  # as stored (TreeSHAP reads it)
    job: RankJob
    partitions: list[ServedPartition]
    pool_seconds: float  # retrieval and features, all partitions
    score_seconds: float  # scoring, ranking and serving, all partitions


def rebuild(db: Path, day_asked: str | None) -> Day:
    """The rank step's inputs of the newest completed run of `day_asked` (of any date
    without it): the engine loaded as on a day without retraining, and each partition of
    the pool served as `rank_partition` serves it (kept here: the reasons are timed on it)."""
    store = connect_readonly(db)
    found = (
        runs.latest_complete_run(store, day_asked) if table_exists(store, "pipeline_runs") else None
    )
    if found is None:
        sys.exit(f"{db}: no completed run{f' of {day_asked}' if day_asked else ''}")
    day, run_id = found
    run_date = date.fromisoformat(day)
    settings = run_settings(store, db, day, run_id)
    figures = metrics.values_of(
        store,
        day,
        [f"duration_{name}_s" for name in runs.RUN_STEPS]
        + ["duration_reasons_s", "calibration_shift_served", "partitions"],
    )
    version = recommendations.served_model(store, day)
    if version is None:
        sys.exit(f"{db}: nothing served on {day}")
    active = load_version(store, version)
    store.close()
    engine = open_engine(settings)
    try:
        engine.load(since=history_start(run_date, settings, retraining=False))
        shift = figures.get("calibration_shift_served", 0.0)
        job, retrieval = rank_job(engine, active, settings, run_date, shift)
        served, score_seconds = [], 0.0
        t0 = time.perf_counter()
        # `process` returns the pool as it is: each partition is served here, and its
        # arrays kept for the timing.
        for pool in engine.pool_partitions(
            retrieval, int(figures.get("partitions", 1)), lambda pool: pool
        ):
            t, part = timed(serve_partition, pool, job)
            score_seconds += t
            served.append(part)
        pool_seconds = time.perf_counter() - t0 - score_seconds
    finally:
        engine.close()
    return Day(
        db, day, settings, figures, version, active.model, job, served, pool_seconds, score_seconds
    )


@dataclass(frozen=True)
class Reasons:
    """Each part's seconds (one per repeat, summed over the partitions) and the last
    repeat's results, in the partitions' order."""

    seconds: dict[str, list[float]]
    X: np.ndarray  # the served pairs' features
    contrib: np.ndarray  # their path attributions (REASON_COLUMNS)
    codes: pa.Array  # their reason codes (JSON)


def choose(job: RankJob, X: np.ndarray, contrib: np.ndarray, offers: np.ndarray) -> Chosen:
    """The reasons of served pairs from their features and contributions, as
    `rank_partition` chooses them."""
    return choose_reasons(contrib, X[:, REASON_COLUMNS], np.isin(offers, job.targeted))


def time_reasons(d: Day, repeat: int) -> Reasons:
    """Time each part of the reasons `repeat` times: the leaf tables (built once a day by
    the rank step), then per partition what `rank_partition` times (the served rows, their
    features, contributions, choosing, JSON), then the extra column's cost in the rank
    step's insert (the rows with their codes against the same rows without the column)."""
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
            t, chosen = timed(choose, d.job, X, contrib, offers)
            took["choose"] += t
            t, codes = timed(chosen.as_json)
            took["JSON"] += t
            X_all.append(X)
            contrib_all.append(contrib)
            codes_all.append(codes)
        pairs = zip(d.partitions, codes_all, strict=True)
        written = [p.served.append_column("reason_codes", codes) for p, codes in pairs]
        with_column = _insert(written, d, RECOMMENDATION_COLUMNS)
        took["insert (extra column)"] = with_column - _insert(written, d, WITHOUT_REASONS)
        for name, t in took.items():
            seconds.setdefault(name, []).append(t)
    return Reasons(
        seconds, np.concatenate(X_all), np.concatenate(contrib_all), pa.concat_arrays(codes_all)
    )


# The recommendations' columns before reasons: the baseline of the extra column's insert.
WITHOUT_REASONS = tuple(c for c in RECOMMENDATION_COLUMNS if c != "reason_codes")


def _insert(recs: list[pa.Table], d: Day, columns: tuple[str, ...]) -> float:
    """Seconds to write the partitions' served rows, only `columns`, into an empty
    `recommendations` table (the store's schema, in memory) as
    `outputs.append_recommendations` writes them, in one transaction as the rank step."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    migrate(con)
    t0 = time.perf_counter()
    with transaction(con):
        for part in recs:
            n = part.num_rows
            rows = part.append_column("run_date", pa.repeat(pa.scalar(d.day, pa.string()), n))
            version = pa.repeat(pa.scalar(d.version, pa.string()), n)
            rows = rows.append_column("model_version", version)
            insert_arrow(con, "recommendations", rows.select(list(columns)))
    seconds = time.perf_counter() - t0
    con.close()
    return seconds


def run_agreement(d: Day, served: pa.Table, codes: pa.Array) -> str:
    """How the rebuilt lists and reasons compare with those the run stored: equal when
    the inputs are rebuilt as the run had them."""
    stored = recommendations.served_lists_arrow(d.db, d.day)
    ours = served.append_column("reason_codes", codes).sort_by(
        [("customer_id", "ascending"), ("rank", "ascending")]
    )
    if stored.num_rows != ours.num_rows:
        return f"{ours.num_rows:,} served pairs here, {stored.num_rows:,} stored by the run"

    def share(column: str) -> float:
        equal = pc.fill_null(pc.equal(ours.column(column), stored.column(column)), False)
        return pc.sum(equal.cast(pa.int64())).as_py() / max(ours.num_rows, 1)

    pairs = min(share("customer_id"), share("offer_id"))
    return f"same pairs {pairs:.1%}, same reasons {share('reason_codes'):.1%}"


def report(d: Day, r: Reasons, repeat: int, shap_sample: int) -> None:
    served = pa.concat_tables([p.served for p in d.partitions])
    offers = served.column("offer_id").to_numpy()
    n, scored, parts = served.num_rows, sum(p.cust.size for p in d.partitions), len(d.partitions)
    total = sum(statistics.median(v) for v in r.seconds.values())
    steps = [f"duration_{name}_s" for name in runs.RUN_STEPS if name != "train"]
    run_s = sum(d.figures.get(step, 0.0) for step in steps)
    print(
        f"\n{d.db} {d.day}: {n:,} served pairs ({scored:,} scored, {parts} partition"
        f"{'s' if parts != 1 else ''}), model {d.version} ({d.model.kind}); median of {repeat}"
    )
    for name, values in r.seconds.items():
        print(f"  {name:24s} {statistics.median(values):7.3f} s")
    print(f"  {'reasons, total':24s} {total:7.3f} s  ({n / total:,.0f} pairs/s)")
    if "duration_reasons_s" in d.figures:
        print(
            f"  the run's own duration_reasons_s {d.figures['duration_reasons_s']:.3f} s"
            " (the same parts without the leaf tables and the insert)"
        )
    print(f"  retrieval and features (reference) {d.pool_seconds:.2f} s")
    print(f"  scoring, ranking and serving all candidates (reference) {d.score_seconds:.2f} s")
    print(f"  lists and reasons against the run's: {run_agreement(d, served, r.codes)}")
    if run_s:
        print(
            f"  the run of {d.day} without training: {run_s:.1f} s (its steps' durations);"
            f" reasons = {100 * total / run_s:.1f} % of it"
        )
    k = min(shap_sample, n)
    sample = np.random.default_rng(0).choice(n, size=k, replace=False)
    t_shap, shap = timed(lambda: np.asarray(d.model.contributions(r.X[sample]))[:, :-1])
    print(
        f"  TreeSHAP (pred_contrib) on {k:,} served pairs: {t_shap:.2f} s"
        f" = {1000 * t_shap / k:.3f} ms a pair; all {n:,}: ~{t_shap / k * n:,.0f} s"
    )
    if d.model.kind == "lightgbm":
        exact = choose(d.job, r.X[sample], shap[:, REASON_COLUMNS], offers[sample]).codes
        path = choose(d.job, r.X[sample], r.contrib[sample], offers[sample]).codes
        first = np.mean(exact[:, 0] == path[:, 0])
        same = np.mean([set(a[a >= 0]) == set(b[b >= 0]) for a, b in zip(exact, path, strict=True)])
        print(
            f"  reasons from TreeSHAP vs path attribution: first reason equal {first:.1%},"
            f" same set {same:.1%} (sample of {k:,})"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {peak:,.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--date", help="a run date of the store (default: its newest complete run)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--shap-sample", type=int, default=5000)
    args = ap.parse_args()
    d = rebuild(args.db, args.date)
    report(d, time_reasons(d, args.repeat), args.repeat, args.shap_sample)


if __name__ == "__main__":
    main()
