"""Learning curve: how far the chosen model is from the oracle, by training window.

For one run date of a generated world, trains LR and LightGBM (as the train step does) on
training windows of several lengths and prints, for each, the training positives, the
chosen model's validation AUC, the oracle's AUC on the same validation impressions, the
gap between them, and the same gap out of sample (the seven days after the validation
days, which the next week's runs evaluate on). `min_train_positives` is chosen from it.

    python bench/bench_learning_curve.py --db /tmp/small.db --date 2026-02-16
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engines import duckdb_engine  # noqa: E402
from offerrank.config import Settings  # noqa: E402
from offerrank.engines.base import Window  # noqa: E402
from offerrank.monitoring.metrics_rank import auc  # noqa: E402
from offerrank.store.db import query_arrow  # noqa: E402
from offerrank.training.dataset import (  # noqa: E402
    build_training_data,
    featurize,
    training_split,
)
from offerrank.training.train import fit_models  # noqa: E402

WINDOWS = (28, 56, 84, 112, 140, 182, 245, 364)


def oracle(db: Path, ids: np.ndarray, labels: np.ndarray) -> float | None:
    truth = (
        query_arrow(
            db,
            "SELECT impression_id, p_true FROM sim_impression_truth"
            " WHERE impression_id BETWEEN ? AND ?",
            (int(ids.min()), int(ids.max())),
        )
        .to_pandas()
        .set_index("impression_id")["p_true"]
    )
    return auc(labels, truth.reindex(ids).to_numpy())


def figure(value: float | None) -> str:
    """An AUC, or n/a where one class is missing (`auc` returns None)."""
    return "   n/a" if value is None else f"{value:.4f}"


def gap(oracle_auc: float | None, model_auc: float | None) -> str:
    if oracle_auc is None or model_auc is None:
        return "    n/a"
    return f"{oracle_auc - model_auc:+.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--date", type=date.fromisoformat, required=True)
    parser.add_argument("--windows", default=",".join(map(str, WINDOWS)))
    args = parser.parse_args()
    s = Settings(db_path=args.db, history_cache=False)
    engine = duckdb_engine(args.db)
    split0 = training_split(args.date, s)
    after = Window(split0.validation.last + timedelta(days=1), args.date - timedelta(days=1))
    oos_rows = engine.labelled_impressions(after)
    oos = featurize(engine, oos_rows)
    oos_ids = oos_rows.column("impression_id").to_numpy()
    oos_oracle = oracle(args.db, oos_ids, oos.y)
    print(
        f"{args.db.name} {args.date}: out of sample {after.first}..{after.last},"
        f" {oos.n} impressions, {oos.positives} positives, oracle AUC {figure(oos_oracle)}"
    )
    print("window  train_pos  val_auc  oracle  gap     oos_auc  oos_gap  seconds")
    for days in (int(w) for w in args.windows.split(",")):
        t0 = time.perf_counter()
        split = training_split(args.date, s, days)
        data = build_training_data(engine, args.date, s, split)
        result = fit_models(data, args.date, s)
        val = data.validation
        val_oracle = oracle(args.db, val.keys.column("impression_id").to_numpy(), val.y)
        val_auc = result.sidecar["val_auc"]
        oos_auc = auc(oos.y, result.model.predict_proba(oos.X))
        print(
            f"{days:6d}  {data.train.positives:9d}  {figure(val_auc)}  {figure(val_oracle)}"
            f"  {gap(val_oracle, val_auc)}  {figure(oos_auc)}   {gap(oos_oracle, oos_auc)}"
            f"  {time.perf_counter() - t0:7.1f}"
        )


if __name__ == "__main__":
    main()
