"""Feature sets, measured: each named set (and, with --removals, each extra left out)
trained as the train step trains, judged on the same impressions.

For every store and run date: the training set is built once with every known feature
(each feature is computed on its own, so a subset is a choice of columns), then LR and
LightGBM are fitted on each set's columns and the better kept, as `fit_models` does.
Printed per set: the chosen model's validation AUC, the out-of-sample AUC (the seven
days after the validation days, whose labels the generated world already holds), the
oracle's AUC on the same rows (a generated world's `p_true`) and the gap to it,
precision@K per customer and day, the calibration ratio out of sample (mean predicted /
positive rate), and the AUC gain over the `contract` set with a paired bootstrap interval
over customers (out of sample). A last table gives each set's median over the dates.

    python bench/bench_ablation.py --store harsh=/tmp/harsh.db --mondays 10
    python bench/bench_ablation.py --store small=/tmp/small.db --dates 2026-02-16 --removals
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engines import duckdb_engine  # noqa: E402
from offerrank.config import Settings  # noqa: E402
from offerrank.engines.base import Window  # noqa: E402
from offerrank.features.registry import FEATURE_SETS, FeatureSet  # noqa: E402
from offerrank.monitoring.metrics_bootstrap import paired_auc_difference  # noqa: E402
from offerrank.monitoring.metrics_probability import calibration_ratio  # noqa: E402
from offerrank.monitoring.metrics_rank import auc, precision_recall_at_k  # noqa: E402
from offerrank.store.db import query_arrow  # noqa: E402
from offerrank.training.dataset import (  # noqa: E402
    LabelledSet,
    TrainingData,
    build_training_data,
    choose_window,
    featurize,
)
from offerrank.training.models import predict_proba  # noqa: E402
from offerrank.training.train import fit_models  # noqa: E402

BASELINE = "contract"
EVERYTHING = "history"


def truth(db: Path, ids: np.ndarray) -> np.ndarray | None:
    """`p_true` of each impression id (a generated world's), None for imported data."""
    try:
        rows = query_arrow(
            db,
            "SELECT impression_id, p_true FROM sim_impression_truth"
            " WHERE impression_id BETWEEN ? AND ?",
            (int(ids.min()), int(ids.max())),
        )
    except Exception:  # noqa: BLE001 - a store without truth has no oracle
        return None
    known = dict(
        zip(
            rows.column("impression_id").to_pylist(), rows.column("p_true").to_pylist(), strict=True
        )
    )
    return np.array([known.get(int(i), np.nan) for i in ids], dtype=np.float64)


def columns_of(full: FeatureSet, chosen: FeatureSet) -> np.ndarray:
    return np.array([full.columns.index(c) for c in chosen.columns], dtype=np.int64)


def subset(data: TrainingData, cols: np.ndarray, chosen: FeatureSet) -> TrainingData:
    def pick(s: LabelledSet) -> LabelledSet:
        return LabelledSet(s.keys, np.ascontiguousarray(s.X[:, cols]), s.y)

    return TrainingData(
        data.split,
        pick(data.train),
        pick(data.validation),
        data.kept_negative_rate,
        data.train_positive_rate,
        chosen,
    )


def groups(s: LabelledSet) -> np.ndarray:
    """One id per customer and shown day: the list a customer saw that day."""
    day = s.keys.column("as_of").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    cust = s.keys.column("customer_id").to_numpy().astype(np.int64)
    return cust * 100_000 + day.astype(np.int64)


def variants(removals: bool) -> dict[str, FeatureSet]:
    out = dict(FEATURE_SETS)
    if removals:
        for f in FEATURE_SETS[EVERYTHING].extras:
            out[f"-{f.name}"] = FEATURE_SETS[EVERYTHING].without(f.name)
    return out


def one_date(
    name: str, db: Path, run: date, settings: Settings, sets: dict[str, FeatureSet], k: int
) -> dict[str, dict[str, float]]:
    engine = duckdb_engine(db)
    full = FEATURE_SETS[EVERYTHING]
    split = choose_window(engine, run, settings)
    data = build_training_data(engine, run, settings, split, feature_set=full)
    after = Window(split.validation.last + timedelta(days=1), run - timedelta(days=1))
    oos_rows = engine.labelled_impressions(after)
    oos = featurize(engine, oos_rows, feature_set=full)
    engine.close()
    val_truth = truth(db, data.validation.keys.column("impression_id").to_numpy())
    oos_truth = truth(db, oos_rows.column("impression_id").to_numpy()) if oos.n else None
    val_oracle = auc(data.validation.y, val_truth) if val_truth is not None else None
    oos_oracle = auc(oos.y, oos_truth) if oos_truth is not None else None
    print(
        f"\n{name} {run}: train {split.train.first}..{split.train.last}"
        f" ({data.train.n} rows, {data.train.positives} positives), validation"
        f" {data.validation.n} rows / {data.validation.positives} positives, out of sample"
        f" {oos.n} / {oos.positives}; oracle AUC validation {val_oracle or float('nan'):.4f},"
        f" out of sample {oos_oracle or float('nan'):.4f}"
    )
    print(
        f"{'set':32s} {'val_auc':>8s} {'gap':>7s} {'oos_auc':>8s} {'oos_gap':>8s}"
        f" {'p@' + str(k):>6s} {'calib':>6s} {'gain vs ' + BASELINE + ' [95%]':>28s} {'s':>5s}"
    )
    results: dict[str, dict[str, float]] = {}
    scores: dict[str, np.ndarray] = {}
    for label, chosen in sets.items():
        t0 = time.perf_counter()
        cols = columns_of(full, chosen)
        fitted = fit_models(subset(data, cols, chosen), run, settings)
        val_auc = fitted.sidecar["val_auc"]
        oos_p = predict_proba(fitted.model, np.ascontiguousarray(oos.X[:, cols]))
        scores[label] = oos_p
        row = {
            "val_auc": val_auc if val_auc is not None else float("nan"),
            "oos_auc": auc(oos.y, oos_p) or float("nan"),
            "p_at_k": (precision_recall_at_k(groups(oos), oos.y, oos_p, k) or (float("nan"),))[0],
            "calibration": calibration_ratio(oos.y, oos_p) or float("nan"),
        }
        row["gap"] = (val_oracle - row["val_auc"]) if val_oracle is not None else float("nan")
        row["oos_gap"] = (oos_oracle - row["oos_auc"]) if oos_oracle is not None else float("nan")
        gain = ""
        if label != BASELINE and BASELINE in scores:
            diff = paired_auc_difference(
                oos.keys.column("customer_id"), oos.y, oos_p, scores[BASELINE]
            )
            if diff is not None:
                row["gain"], lo, hi = diff[0], diff[1] or float("nan"), diff[2] or float("nan")
                row["gain_lo"], row["gain_hi"] = lo, hi
                gain = f"{diff[0]:+.4f} [{lo:+.4f}, {hi:+.4f}]"
        results[label] = row
        print(
            f"{label:32s} {row['val_auc']:8.4f} {row['gap']:+7.4f} {row['oos_auc']:8.4f}"
            f" {row['oos_gap']:+8.4f} {row['p_at_k']:6.4f} {row['calibration']:6.3f}"
            f" {gain:>28s} {time.perf_counter() - t0:5.1f}"
        )
    return results


def mondays(first: date, count: int) -> list[date]:
    start = first + timedelta(days=(7 - first.weekday()) % 7)
    return [start + timedelta(weeks=i) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", action="append", required=True, help="NAME=PATH")
    parser.add_argument("--dates", default="", help="comma-separated run dates")
    parser.add_argument("--mondays", type=int, default=0, help="or: this many Mondays")
    parser.add_argument("--first", type=date.fromisoformat, default=date(2025, 11, 3))
    parser.add_argument("--removals", action="store_true", help="also each extra left out")
    args = parser.parse_args()
    dates = [date.fromisoformat(d) for d in args.dates.split(",") if d]
    dates += mondays(args.first, args.mondays)
    if not dates:
        parser.error("give --dates or --mondays")
    sets = variants(args.removals)
    for spec in args.store:
        name, _, path = spec.partition("=")
        db = Path(path)
        settings = Settings(db_path=db, history_cache=False)
        per_date = [one_date(name, db, d, settings, sets, settings.top_k) for d in dates]
        print(f"\n{name}: median over {len(dates)} date(s); gains with 0 outside the interval")
        print(f"{'set':32s} {'val_auc':>8s} {'gap':>7s} {'oos_auc':>8s} {'oos_gap':>8s}"
              f" {'calib':>6s} {'gain':>8s} {'>0':>4s} {'<0':>4s}")  # fmt: skip
        for label in sets:
            rows = [r[label] for r in per_date]

            def median(key: str, rows: list[dict[str, float]] = rows) -> float:
                values = [r[key] for r in rows if key in r and np.isfinite(r[key])]
                return statistics.median(values) if values else float("nan")

            above = sum(1 for r in rows if r.get("gain_lo", -1.0) > 0)
            below = sum(1 for r in rows if r.get("gain_hi", 1.0) < 0)
            print(
                f"{label:32s} {median('val_auc'):8.4f} {median('gap'):+7.4f}"
                f" {median('oos_auc'):8.4f} {median('oos_gap'):+8.4f}"
                f" {median('calibration'):6.3f} {median('gain'):+8.4f} {above:4d} {below:4d}"
            )


if __name__ == "__main__":
    main()
