"""Out-of-sample evaluation of the model that ranked today, and the quality of the lists.

Evaluation is always out of sample: the impressions of the most recent mature days that
the evaluated model never saw in training (on a retraining day, exactly its validation
days), scored with features as of each impression's shown date.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.engines.base import Engine, Window
from offerrank.monitoring.metrics import evaluate
from offerrank.monitoring.metrics_lists import coverage, diversity
from offerrank.monitoring.metrics_rank import auc
from offerrank.pipeline.context import Run
from offerrank.pipeline.curves import evaluation_curves
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.rank import Ranked
from offerrank.pipeline.steps.train import Trained
from offerrank.store import outputs
from offerrank.store.db import query_arrow, table_exists
from offerrank.training.dataset import featurize, last_mature_day
from offerrank.training.models import predict_proba
from offerrank.training.registry import ActiveModel

AT_K = ("precision_at_k", "recall_at_k", "margin_lift_at_k")


def evaluation_window(run_date: date, model: ActiveModel, eval_days: int, last: date) -> Window:
    """The `eval_days` newest mature days, after the last day the model trained on."""
    first = last - timedelta(days=eval_days - 1)
    trained_until = date.fromisoformat(model.sidecar["train_window"][1])
    return Window(max(first, trained_until + timedelta(days=1)), last)


def evaluate_step(run: Run, trained: Trained, ranked: Ranked) -> Done[dict[str, float | None]]:
    s, engine = run.settings, run.engine
    values: dict[str, float | None] = {}
    if ranked.recommendations.num_rows:
        values.update(list_quality(engine, ranked.recommendations, run.run_date))
    window = evaluation_window(
        run.run_date, trained.model, s.eval_days, last_mature_day(run.run_date, s)
    )
    rows = engine.labelled_impressions(window) if window.first <= window.last else None
    if rows is None or rows.num_rows == 0 or not pc.sum(rows.column("label")).as_py():
        run.put_metrics(values)
        return Done(
            values,
            f"no out-of-sample mature impressions with a positive in {window.first}..{window.last}",
            skipped=True,
        )
    data = featurize(engine, rows)
    frame = evaluation_frame(engine, rows, predict_proba(trained.model.model, data.X))
    values.update(evaluate_impressions(frame, s.eval_k, s.bootstrap_samples, s.seed))
    oracle = oracle_auc(run, rows, data.y)
    if oracle is not None:
        values["oracle_auc"] = oracle
    values["eval_window_days"] = (window.last - window.first).days + 1
    run.put_metrics(values)
    with run.outputs() as con:  # curves and metrics in one swap
        outputs.replace_curves(con, run.day, evaluation_curves(frame, s.top_k))
    auc_value = values.get("auc")
    return Done(
        values,
        f"{data.n} impressions {window.first}..{window.last}: AUC "
        + (f"{auc_value:.4f}" if auc_value is not None else "n/a")
        + (f" (oracle {oracle:.4f})" if oracle is not None else "")
        + f", precision@{s.eval_k} {values.get('precision_at_k', float('nan')):.4f}",
    )


def evaluate_impressions(frame: pd.DataFrame, k: int, bootstrap: int, seed: int) -> dict:
    """Every figure on all evaluated impressions, except the @k ones.

    A customer with k impressions or fewer has all of them in the top k whatever the
    order, so recall@k and margin lift@k are 1 and precision@k is fixed for them; the
    @k figures are computed on the customers with more than k impressions, where the
    ranking decides, and `eval_customers_at_k` says how many there were.
    """
    values = {
        name: v
        for name, v in evaluate(frame, k, bootstrap=bootstrap, seed=seed).items()
        if not name.startswith(AT_K)
    }
    sizes = frame.groupby("customer_id")["label"].transform("size")
    ranked = frame[sizes > k]
    values["eval_customers_at_k"] = ranked["customer_id"].nunique()
    if len(ranked) and ranked["label"].any():
        at_k = evaluate(ranked, k, bootstrap=bootstrap, seed=seed)
        values.update({name: v for name, v in at_k.items() if name.startswith(AT_K)})
    return values


def evaluation_frame(engine: Engine, rows: pa.Table, probs: np.ndarray) -> pd.DataFrame:
    """Each evaluated impression (in row order) with its offer's category and unit margin
    and its score: the metrics' input."""
    facts = engine.offer_facts(rows.column("offer_id").to_numpy())
    return pd.DataFrame(
        {
            "customer_id": rows.column("customer_id").to_numpy(),
            "offer_id": rows.column("offer_id").to_numpy(),
            "label": rows.column("label").to_numpy(),
            "category": facts.column("category").to_pandas(),
            "margin": facts.column("unit_margin").to_numpy(zero_copy_only=False),
            "score": probs,
        }
    )


def list_quality(engine: Engine, recs: pa.Table, run_date: date) -> dict[str, float | None]:
    """Coverage of the offers active on the date and category diversity of the lists
    (`recs` sorted by customer and rank, as the rank step writes them)."""
    cats = engine.offer_facts(recs.column("offer_id").to_numpy()).column("category")
    return {
        "coverage": coverage(recs.column("offer_id").to_numpy(), engine.active_offers(run_date)),
        "diversity": diversity(
            recs.column("customer_id").to_numpy(), cats.to_numpy(zero_copy_only=False)
        ),
    }


def oracle_auc(run: Run, rows: pa.Table, labels: np.ndarray) -> float | None:
    """AUC of the synthetic world's true probability on the same impressions, when known."""
    if not table_exists(run.store, "sim_impression_truth") or labels.min() == labels.max():
        return None
    ids = rows.column("impression_id").to_numpy()
    truth = query_arrow(
        run.settings.db_path,
        "SELECT impression_id, p_true FROM sim_impression_truth"
        " WHERE impression_id BETWEEN ? AND ?",
        (int(ids.min()), int(ids.max())),
    )
    t_ids = truth.column("impression_id").to_numpy()
    order = np.argsort(t_ids)
    t_ids, t_p = t_ids[order], truth.column("p_true").to_numpy()[order]
    pos = np.searchsorted(t_ids, ids)
    if len(t_ids) == 0 or np.any(pos >= len(t_ids)) or np.any(t_ids[pos] != ids):
        return None  # truth incomplete for these impressions (e.g. data imported later)
    return auc(labels, t_p[pos])
