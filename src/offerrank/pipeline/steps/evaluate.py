"""Out-of-sample evaluation of the model that ranked today, and the quality of the lists.

Evaluation is always out of sample: the impressions of the most recent mature days that
the evaluated model never saw in training (on a retraining day, exactly its validation
days), scored with features as of each impression's shown date.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from offerrank.engines.base import Engine, Window
from offerrank.features.registry import FEATURE_COLUMNS
from offerrank.monitoring.costs import cost_basis
from offerrank.monitoring.curves import evaluation_curves
from offerrank.monitoring.metrics import offline_metrics
from offerrank.monitoring.metrics_bootstrap import bootstrap_ci
from offerrank.monitoring.metrics_probability import calibration_ratio, expected_calibration_error
from offerrank.monitoring.metrics_rank import auc
from offerrank.pipeline.context import Run
from offerrank.pipeline.runs import Done
from offerrank.pipeline.steps.rank import Ranked
from offerrank.pipeline.steps.train import Trained
from offerrank.store.read import monitoring
from offerrank.store.results import outputs
from offerrank.training.calibration import shifted
from offerrank.training.dataset import LabelledSet
from offerrank.training.models import predict_proba

AT_K = ("precision_at_k", "recall_at_k", "margin_lift_at_k")
# Bumped whenever what the evaluation computes changes: earlier reusable results then
# no longer match any fingerprint.
EVALUATION_VERSION = "4"


def evaluate(run: Run, trained: Trained, ranked: Ranked) -> Done[dict[str, float | None]]:
    s, engine = run.settings, run.engine
    values: dict[str, float | None] = {}
    if ranked.recommendations:
        values.update(ranked.list_quality)
    costs = cost_basis(engine.unit_costs())
    values["unit_costs"] = costs.code
    run.notes.append(("warning: " if costs.source != "feed" else "") + costs.detail)
    window, delta = ranked.shift.window, ranked.shift.measured
    evaluation = ranked.evaluation  # read and featurised once, by the rank step
    if evaluation is None:
        run.put_metrics(values)
        return Done(
            values,
            f"no out-of-sample mature impressions with a positive in {window.first}..{window.last}",
            skipped=True,
        )
    # Keyed by the days that hold impressions, not the window's edges: a window moved by a
    # day without impressions at either end evaluates the same rows (weekly coupon books).
    rows, data = evaluation.rows, evaluation.data
    shown = rows.column("as_of")
    held = Window(pc.min(shown).as_py(), pc.max(shown).as_py())
    key = evaluation_fingerprint(run, trained, held, delta)
    reused = monitoring.cached_evaluation(run.store, key)
    if reused is not None:
        reused_on, figures, curves = reused
        origin = f" (inputs unchanged since the run of {reused_on}: its figures reused)"
    else:
        figures, curves = _evaluate(run, trained, rows, data, delta)
        origin = ""
    figures["eval_window_days"] = (window.last - window.first).days + 1
    figures["calibration_shift_measured"] = delta
    values.update(figures)
    run.put_metrics(values)
    _confidence_notes(run, values)
    with run.outputs() as con:  # curves, metrics and the reusable result in one swap
        outputs.replace_curves(con, run.day, curves)
        outputs.save_evaluation(con, key, run.day, figures, curves)
    return Done(values, _summary(values, window, s.eval_k) + origin)


def _evaluate(
    run: Run, trained: Trained, rows: pa.Table, data: LabelledSet, delta: float
) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Every out-of-sample figure and curve of the window's labelled impressions, scored
    with the daily shift `delta` the run dated on the window's first day would have
    served (`pipeline/calibration.py`)."""
    s, engine, model = run.settings, run.engine, trained.model.model
    frame = evaluation_frame(engine, rows, predict_proba(shifted(model, delta), data.X))
    frame["popularity"] = data.X[:, FEATURE_COLUMNS.index("historical_redemption_rate")]
    figures: dict[str, float | None] = dict(
        impression_metrics(frame, s.eval_k, s.bootstrap_samples, s.seed)
    )
    oracle = oracle_auc(run, rows, data.y)
    if oracle is not None:
        figures["oracle_auc"] = oracle
    return figures, evaluation_curves(frame, s.top_k)


def evaluation_fingerprint(run: Run, trained: Trained, window: Window, delta: float) -> str:
    """Everything an evaluation depends on: the model, the first and last days with
    impressions in its window, the settings it reads and every input row it can read
    (the engine's `inputs_digest`)."""
    s = run.settings
    digest = run.engine.inputs_digest(
        window.first - timedelta(days=s.lookback_days),
        window.last,
        window.last + timedelta(days=s.label_window_days),
    )
    parts = [
        EVALUATION_VERSION,
        trained.model.version,
        trained.model.sidecar.get("artifact_sha256", ""),
        window.first.isoformat(),
        window.last.isoformat(),
        json.dumps(
            [s.eval_k, s.top_k, s.bootstrap_samples, s.seed, s.lookback_days, s.label_window_days]
        ),
        run.engine.name,
        repr(delta),
        digest,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _confidence_notes(run: Run, values: dict[str, float | None]) -> None:
    positives = values.get("n_positives") or 0
    low = positives < run.settings.min_evaluation_positives
    run.put_metrics({"evaluation_low_confidence": int(low)})
    if low:
        run.notes.append(
            f"warning: the evaluation rests on {positives:.0f} positives (fewer than"
            f" {run.settings.min_evaluation_positives}): its figures are low-confidence"
        )


def _summary(values: dict[str, float | None], window: Window, k: int) -> str:
    def figure(name: str) -> str:
        v, lo, hi = (values.get(x) for x in (name, f"{name}_ci_low", f"{name}_ci_high"))
        if v is None:
            return "n/a"
        ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
        return f"{v:.4f}{ci}"

    oracle = values.get("oracle_auc")
    return (
        f"{values.get('n_impressions', 0):.0f} impressions, {values.get('n_positives', 0):.0f}"
        f" positives, {window.first}..{window.last}: AUC {figure('auc')}"
        + (f" (oracle {oracle:.4f})" if oracle is not None else "")
        + f", precision@{k} {figure('precision_at_k')}"
        + (
            f" (popularity {values['precision_at_k_popularity']:.4f}, random"
            f" {values['precision_at_k_random']:.4f})"
            if values.get("precision_at_k_popularity") is not None
            and values.get("precision_at_k_random") is not None
            else ""
        )
        + f", calibration ratio {figure('calibration_ratio')}"
    )


def impression_metrics(frame: pd.DataFrame, k: int, bootstrap: int, seed: int) -> dict:
    """Every figure on all evaluated impressions, except the @k ones; the @k figures on
    the customers with more than k impressions, for the model and, on the same
    impressions, a popularity order (`popularity` column) and a random order.

    A customer with k impressions or fewer has all of them in the top k whatever the
    order, so recall@k and margin lift@k are 1 and precision@k is fixed for them; the
    @k figures are computed on the customers with more than k impressions, where the
    ranking decides, and `eval_customers_at_k` says how many there were.
    """
    values = {
        name: v
        for name, v in offline_metrics(frame, k, bootstrap=bootstrap, seed=seed).items()
        if not name.startswith(AT_K)
    }
    values.update(calibration_figures(frame, bootstrap, seed))
    sizes = frame.groupby("customer_id")["label"].transform("size")
    ranked = frame[sizes > k]
    values["eval_customers_at_k"] = ranked["customer_id"].nunique()
    if len(ranked) and ranked["label"].any():
        at_k = offline_metrics(ranked, k, bootstrap=bootstrap, seed=seed)
        values.update({name: v for name, v in at_k.items() if name.startswith(AT_K)})
        baselines = {"random": np.zeros(len(ranked))}
        if "popularity" in ranked:
            baselines["popularity"] = ranked["popularity"].to_numpy()
        for name, score in baselines.items():
            other = offline_metrics(ranked.assign(score=score), k, bootstrap=0)
            values.update(
                {f"{m}_{name}": v for m, v in other.items() if m in AT_K and v is not None}
            )
    return values


def calibration_figures(frame: pd.DataFrame, bootstrap: int, seed: int) -> dict[str, float]:
    """Mean prediction over observed rate, and the expected calibration error, each with a
    customer bootstrap interval."""
    y, p, customers = frame["label"].to_numpy(), frame["score"].to_numpy(), frame["customer_id"]
    out: dict[str, float] = {}
    for name, fn in (("calibration_ratio", calibration_ratio), ("ece", expected_calibration_error)):
        value = fn(y, p)
        if value is None:
            continue
        out[name] = value
        ci = (
            bootstrap_ci(fn, y, p, n=bootstrap, seed=seed, cluster=customers) if bootstrap else None
        )
        if ci is not None:
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = ci
    return out


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


def oracle_auc(run: Run, rows: pa.Table, labels: np.ndarray) -> float | None:
    """AUC of the synthetic world's true probability on the same impressions, when known."""
    if labels.min() == labels.max():
        return None
    ids = rows.column("impression_id").to_numpy()
    truth = monitoring.impression_truth(
        run.store, run.settings.db_path, int(ids.min()), int(ids.max())
    )
    if truth is None:
        return None
    t_ids = truth.column("impression_id").to_numpy()
    order = np.argsort(t_ids)
    t_ids, t_p = t_ids[order], truth.column("p_true").to_numpy()[order]
    pos = np.searchsorted(t_ids, ids)
    if len(t_ids) == 0 or np.any(pos >= len(t_ids)) or np.any(t_ids[pos] != ids):
        return None  # truth incomplete for these impressions (e.g. data imported later)
    return auc(labels, t_p[pos])
