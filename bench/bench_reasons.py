"""What the reasons cost in a daily run, and how they compare with TreeSHAP's.

    .venv/bin/python bench/bench_reasons.py --db /tmp/medium.db [--date 2026-02-17]
        [--repeat 3] [--shap-sample 5000]

On a store with a completed run of the date (default: its newest), it rebuilds the rank
step's inputs (candidates, features, scores, served top K), then times each part of the
reasons (served rows, contributions, choosing, JSON, and the extra column's insert),
median of --repeat, against the run's own wall time from `run_metrics`. It also times
TreeSHAP (`pred_contrib`) on a sample of served pairs, to show what exact TreeSHAP for
every served pair would cost, and how often its reasons agree with the path attribution's.
The budget: the reasons within 20 % of a daily run without retraining.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from offerrank.delivery.served import served_rows
from offerrank.ranking.candidates import retrieval_query

from offerrank.config import Settings
from offerrank.delivery.attribution import served_contributions
from offerrank.delivery.offers import offer_details
from offerrank.delivery.reasons import REASON_COLUMNS, Chosen, choose_reasons
from offerrank.engines.registry import open_engine
from offerrank.pipeline.daily import STEPS
from offerrank.pipeline.steps.load import history_start
from offerrank.ranking.rank import rank_within_customer
from offerrank.ranking.serving import served_top_k
from offerrank.store.db import connect, insert_arrow
from offerrank.training.registry import load_version


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--date", help="a run date of the store (default: its newest complete run)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--shap-sample", type=int, default=5000)
    args = ap.parse_args()
    settings = Settings(db_path=args.db)
    store = connect(args.db)
    day = (
        args.date
        or store.execute(
            "SELECT run_date FROM pipeline_runs WHERE step = 'evaluate' AND status IN"
            " ('success', 'skipped') ORDER BY rowid DESC LIMIT 1"
        ).fetchone()[0]
    )
    run_date = date.fromisoformat(day)
    steps = dict(
        store.execute(
            "SELECT metric, value FROM run_metrics WHERE run_date = ? AND metric LIKE 'duration_%'",
            (day,),
        ).fetchall()
    )
    version = store.execute(
        "SELECT model_version FROM recommendations WHERE run_date = ? LIMIT 1", (day,)
    ).fetchone()[0]
    model = load_version(store, version).model
    engine = open_engine(settings)
    engine.load(since=history_start(run_date, settings, retraining=False))
    pool = engine.candidate_pool(retrieval_query(run_date, settings))
    t_score, scored = timed(engine.score, pool, model)
    feats, X = scored.features, scored.X
    cust, offer = feats.column("customer_id").to_numpy(), feats.column("offer_id").to_numpy()
    ranks = rank_within_customer(cust, offer, scored.scores)
    recs = served_top_k(cust, offer, scored.scores, scored.scores, settings, run_date, ranks)
    offers = recs.column("offer_id").to_numpy()

    def choose(contrib: np.ndarray, values: np.ndarray) -> Chosen:
        details = offer_details(store, np.unique(offers).tolist())
        targeted = [o for o, d in details.items() if d.target_business_type]
        return choose_reasons(contrib, values, np.isin(offers, targeted))

    parts: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        t, rows = timed(served_rows, feats, recs, ranks, settings.top_k)
        parts.setdefault("served rows", []).append(t)
        t, Xs = timed(X.__getitem__, rows)
        parts.setdefault("their features", []).append(t)
        t, contrib = timed(served_contributions, model, Xs, REASON_COLUMNS)
        parts.setdefault("contributions", []).append(t)
        t, chosen = timed(choose, contrib, Xs[:, REASON_COLUMNS])
        parts.setdefault("choose", []).append(t)
        t, codes = timed(chosen.as_json)
        parts.setdefault("JSON", []).append(t)
        parts.setdefault("insert (extra column)", []).append(
            _insert(recs.append_column("reason_codes", codes)) - _insert(recs)
        )
    n = recs.num_rows
    total = sum(statistics.median(v) for v in parts.values())
    run_s = sum(steps.get(f"duration_{name}_s", 0.0) for name in STEPS if name != "train")
    print(
        f"\n{args.db} {day}: {n:,} served pairs ({len(cust):,} scored), model {version}"
        f" ({model.kind}); median of {args.repeat}"
    )
    for name, values in parts.items():
        print(f"  {name:24s} {statistics.median(values):7.3f} s")
    print(f"  {'reasons, total':24s} {total:7.3f} s  ({n / total:,.0f} pairs/s)")
    print(f"  scoring all candidates (reference) {t_score:.2f} s")
    if run_s:
        print(
            f"  the run of {day} without training: {run_s:.1f} s (its steps' durations);"
            f" reasons = {100 * total / run_s:.1f} % of it"
        )
    k = min(args.shap_sample, n)
    sample = np.random.default_rng(0).choice(n, size=k, replace=False)
    t_shap, shap = timed(lambda: np.asarray(model.contributions(Xs[sample]))[:, :-1])
    print(
        f"  TreeSHAP (pred_contrib) on {k:,} served pairs: {t_shap:.2f} s"
        f" = {1000 * t_shap / k:.3f} ms a pair; all {n:,}: ~{t_shap / k * n:,.0f} s"
    )
    if model.kind == "lightgbm":
        details = offer_details(store, np.unique(offers).tolist())
        targeted = np.isin(
            offers[sample], [o for o, d in details.items() if d.target_business_type]
        )
        values = Xs[sample][:, REASON_COLUMNS]
        exact = choose_reasons(shap[:, REASON_COLUMNS], values, targeted).codes
        path = choose_reasons(contrib[sample], values, targeted).codes
        first = np.mean(exact[:, 0] == path[:, 0])
        same = np.mean([set(a[a >= 0]) == set(b[b >= 0]) for a, b in zip(exact, path, strict=True)])
        print(
            f"  reasons from TreeSHAP vs path attribution: first reason equal {first:.1%},"
            f" same set {same:.1%} (sample of {k:,})"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {peak:,.0f} MB")


def _insert(table) -> float:
    """Seconds to insert `table` into an empty recommendations-like table (in memory)."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    cols = ", ".join(table.column_names)
    con.execute(f"CREATE TABLE recommendations ({cols})")
    t0 = time.perf_counter()
    con.execute("BEGIN")
    insert_arrow(con, "recommendations", table)
    con.execute("COMMIT")
    seconds = time.perf_counter() - t0
    con.close()
    return seconds


if __name__ == "__main__":
    main()
