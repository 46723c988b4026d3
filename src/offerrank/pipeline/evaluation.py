"""The drift and evaluation steps.

Drift compares today's scoring features with the features the active model scored on
the day it was trained (same population: candidate pairs), so that the candidate
rules' deliberate selection is not mistaken for drift.

Evaluation is always out of sample: the impressions of the most recent mature days
that the evaluated model never saw in training (on a retraining day, exactly its
validation days), scored with features as of each impression's shown date.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.features.compute import FEATURE_COLUMNS
from offerrank.monitoring.drift import dataset_drift, feature_drift_from_profile, reference_profile
from offerrank.monitoring.metrics import auc, coverage, diversity, evaluate
from offerrank.pipeline.context import RunContext
from offerrank.pipeline.curves import store_curves
from offerrank.pipeline.runs import StepSkipped
from offerrank.store.db import query_arrow, table_exists
from offerrank.training.dataset import Window, featurize, labelled_impressions, last_mature_day
from offerrank.training.models import predict_proba


def step_drift(ctx: RunContext) -> str:
    assert ctx.model is not None
    feats = ctx.scoring_features
    if feats is None or feats.num_rows == 0:
        raise StepSkipped("no scoring features today (no candidates)")
    s = ctx.settings
    row = ctx.store.execute(
        "SELECT reference_date, profile_json FROM drift_reference WHERE model_version = ?",
        (ctx.model.version,),
    ).fetchone()
    new_reference = row is None
    if new_reference:
        profile = reference_profile(feats, list(FEATURE_COLUMNS))
        ref_date = ctx.day
    else:
        ref_date, profile = row[0], json.loads(row[1])
    drifts = feature_drift_from_profile(
        profile,
        feats,
        list(FEATURE_COLUMNS),
        psi_threshold=s.psi_threshold,
        wasserstein_threshold=s.wasserstein_threshold,
    )
    flag, share = dataset_drift(drifts, s.drift_share_threshold)
    ctx.put_metrics(
        {
            "dataset_drift": int(flag),
            "drift_share": share,
            "features_drifted": sum(d.drifted for d in drifts),
        }
    )
    rows = [
        (
            ctx.day,
            d.feature,
            d.psi,
            d.wasserstein,
            d.psi_threshold,
            d.wasserstein_threshold,
            int(d.drifted),
        )
        for d in drifts
    ]
    with ctx.outputs() as con:
        if new_reference:
            con.execute(
                "INSERT OR REPLACE INTO drift_reference VALUES (?, ?, ?)",
                (ctx.model.version, ctx.day, json.dumps(profile)),
            )
        con.execute("DELETE FROM feature_drift WHERE run_date = ?", (ctx.day,))
        con.executemany("INSERT INTO feature_drift VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    drifted = [d.feature for d in drifts if d.drifted]
    return (
        f"{len(drifted)} of {len(drifts)} features drifted against {ref_date}"
        + (f" ({', '.join(drifted[:5])})" if drifted else "")
        + ("; dataset drift flagged: retrain next run" if flag else "")
    )


def evaluation_window(ctx: RunContext) -> Window:
    assert ctx.model is not None
    last = last_mature_day(ctx.run_date, ctx.settings)
    first = last - timedelta(days=ctx.settings.eval_days - 1)
    trained_until = date.fromisoformat(ctx.model.sidecar["train_window"][1])
    return Window(max(first, trained_until + timedelta(days=1)), last)


def step_evaluate(ctx: RunContext) -> str:
    assert ctx.engine is not None and ctx.model is not None
    engine, model, s = ctx.engine, ctx.model.model, ctx.settings

    def score(rows: pa.Table) -> tuple[int, np.ndarray, pd.DataFrame]:
        data = featurize(engine, rows, s)
        return data.n, data.y, _evaluation_frame(ctx, rows, predict_proba(model, data.X))

    return evaluate_with(
        ctx, lambda: _list_quality(ctx), lambda w: labelled_impressions(engine, w), score
    )


def evaluate_with(
    ctx: RunContext,
    list_quality: Callable[[], dict[str, float | None]],
    labelled: Callable[[Window], pa.Table],
    score: Callable[[pa.Table], tuple[int, np.ndarray, pd.DataFrame]],
) -> str:
    """The evaluate step around any engine's reads: the list metrics of today's
    recommendations, then, on the out-of-sample window's labelled impressions (`labelled`),
    the metrics of their scores (`score`: count, labels, the metrics' frame)."""
    s = ctx.settings
    values: dict[str, float | None] = {}
    if ctx.recommendations is not None and ctx.recommendations.num_rows:
        values.update(list_quality())
    window = evaluation_window(ctx)
    rows = labelled(window) if window.first <= window.last else None
    if rows is None or rows.num_rows == 0 or not pc.sum(rows.column("label")).as_py():
        ctx.put_metrics(values)
        raise StepSkipped(
            f"no out-of-sample mature impressions with a positive in {window.first}..{window.last}"
        )
    n, y, frame = score(rows)
    values.update(evaluate_impressions(frame, s.eval_k, s.bootstrap_samples, s.seed))
    oracle = _oracle_auc(ctx, rows, y)
    if oracle is not None:
        values["oracle_auc"] = oracle
    values["eval_window_days"] = (window.last - window.first).days + 1
    ctx.put_metrics(values)
    with ctx.outputs():  # curves and metrics in one swap
        store_curves(ctx, evaluation=frame)
    auc = values.get("auc")
    return (
        f"{n} impressions {window.first}..{window.last}: AUC "
        + (f"{auc:.4f}" if auc is not None else "n/a")
        + (f" (oracle {oracle:.4f})" if oracle is not None else "")
        + f", precision@{s.eval_k} {values.get('precision_at_k', float('nan')):.4f}"
    )


AT_K = ("precision_at_k", "recall_at_k", "margin_lift_at_k")


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


# Each evaluated impression (`eval_rows`) with its category and unit margin, in impression
# order: the metrics' input, read the same way by both engines.
EVALUATION_META_SQL = """
SELECT r.customer_id, r.offer_id, r.label, p.category,
       p.list_price * (1 - o.discount_pct) - p.unit_cost AS margin
FROM eval_rows r
JOIN offers o ON o.offer_id = r.offer_id
JOIN products p ON p.product_id = o.product_id
ORDER BY r.impression_id
"""


def _evaluation_frame(ctx: RunContext, rows: pa.Table, probs: np.ndarray) -> pd.DataFrame:
    con = ctx.engine
    assert con is not None
    con.register("eval_rows", rows)
    try:
        meta = con.sql(EVALUATION_META_SQL).df()
    finally:
        con.unregister("eval_rows")
    meta["score"] = probs
    return meta


def _list_quality(ctx: RunContext) -> dict[str, float | None]:
    con, recs = ctx.engine, ctx.recommendations
    assert con is not None and recs is not None
    con.register("recs", recs)
    try:
        cats = con.sql(
            "SELECT r.customer_id, p.category FROM recs r JOIN offers o USING (offer_id)"
            " JOIN products p ON p.product_id = o.product_id ORDER BY r.customer_id, r.rank"
        ).to_arrow_table()
        active = con.sql(
            "SELECT offer_id FROM offers WHERE start_date <= ? AND end_date >= ?",
            params=[ctx.run_date, ctx.run_date],
        ).to_arrow_table()
    finally:
        con.unregister("recs")
    return list_metrics(recs, cats, active)


def list_metrics(recs: pa.Table, cats: pa.Table, active: pa.Table) -> dict[str, float | None]:
    """Coverage and diversity of the day's lists, from the recommended pairs, each list's
    categories in rank order (customer_id, category) and the active offers."""
    return {
        "coverage": coverage(
            recs.column("offer_id").to_numpy(), active.column("offer_id").to_numpy()
        ),
        "diversity": diversity(
            cats.column("customer_id").to_numpy(),
            cats.column("category").to_numpy(zero_copy_only=False),
        ),
    }


def _oracle_auc(ctx: RunContext, rows: pa.Table, labels: np.ndarray) -> float | None:
    """AUC of the synthetic world's true probability on the same impressions, when known."""
    if not table_exists(ctx.store, "sim_impression_truth") or labels.min() == labels.max():
        return None
    ids = rows.column("impression_id").to_numpy()
    truth = query_arrow(
        ctx.settings.db_path,
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
