"""The report's charts, each built from the stored data of one run (see `data.py`)."""

from __future__ import annotations

from typing import Any

from offerrank.delivery.offers import percent
from offerrank.report.data import ReportData
from offerrank.report.svg import Series, bar_chart, empty, line_chart

MODEL_NAMES = {"logistic_regression": "Logistic Regression", "lightgbm": "LightGBM"}


def step_timings(d: ReportData) -> str:
    steps = [s for s in d.steps if s["duration_s"] is not None]
    return bar_chart(
        "step-timings",
        "Step timings",
        [f"{s['step']} ({s['status']})" for s in steps],
        [float(s["duration_s"]) for s in steps],
        value_label="seconds",
        highlight=[s["status"] not in ("success", "skipped") for s in steps],
    )


def _roc_series(payload: dict[str, Any]) -> list[Series]:
    out = []
    for kind, curve in sorted(payload["models"].items()):
        auc = curve.get("auc")
        label = MODEL_NAMES.get(kind, kind) + (f" (AUC {auc:.3f})" if auc is not None else "")
        out.append(Series(label, curve["fpr"], curve["tpr"]))
    return out


def _roc_chart(chart_id: str, title: str, payload: dict[str, Any] | None, missing: str) -> str:
    if not payload or not payload["models"]:
        return empty(chart_id, title, missing)
    return line_chart(
        chart_id,
        title,
        _roc_series(payload),
        x_label="false positive rate",
        y_label="true positive rate",
        x_range=(0.0, 1.0),
        y_range=(0.0, 1.0),
        diagonal=True,
    )


def validation_roc(d: ReportData) -> str:
    return _roc_chart(
        "validation-roc",
        "ROC on the validation days (both models)",
        d.validation_roc,
        "no validation curves stored for the model's run",
    )


def evaluation_roc(d: ReportData) -> str:
    return _roc_chart(
        "evaluation-roc",
        "ROC of the evaluated model on out-of-sample impressions",
        d.curves.get("evaluation.roc"),
        "no out-of-sample evaluation for this run",
    )


def precision_recall(d: ReportData) -> str:
    title = "Precision@k and recall@k"
    p = d.curves.get("evaluation.precision_recall_at_k")
    if not p:
        return empty("precision-recall-at-k", title, "no out-of-sample evaluation for this run")
    return line_chart(
        "precision-recall-at-k",
        title,
        [Series("precision@k", p["k"], p["precision"]), Series("recall@k", p["k"], p["recall"])],
        x_label="k (offers per customer)",
        y_label="share",
        x_range=(1.0, float(max(p["k"]))),
        y_range=(0.0, 1.0),
    )


def margin_lift(d: ReportData) -> str:
    if d.metrics.get("unit_costs") == 0:
        return empty(
            "margin-lift-at-k",
            "Margin lift@k against a random order",
            "hidden: the feed has no unit costs, so no margin can be measured",
        )
    return _margin_lift(d)


def _margin_lift(d: ReportData) -> str:
    title = "Margin lift@k (1 = random order)"
    p = d.curves.get("evaluation.margin_lift")
    if not p:
        return empty("margin-lift-at-k", title, "no out-of-sample evaluation for this run")
    ones = [1.0] * len(p["k"])
    return line_chart(
        "margin-lift-at-k",
        title,
        [Series("margin lift@k", p["k"], p["lift"]), Series("random", p["k"], ones, dashed=True)],
        x_label="k (offers per customer)",
        y_label="lift",
        x_range=(1.0, float(max(p["k"]))),
    )


def calibration(d: ReportData) -> str:
    title = "Calibration: observed redemption rate by predicted probability"
    bins = (d.curves.get("evaluation.calibration") or {}).get("bins") or []
    if not bins:
        return empty("calibration", title, "no out-of-sample evaluation for this run")
    pred = [b["mean_predicted"] for b in bins]
    obs = [b["observed_rate"] for b in bins]
    top = max(max(pred), max(obs)) * 1.05
    return line_chart(
        "calibration",
        title,
        [Series("observed rate", pred, obs)],
        x_label="mean predicted probability (decile bins)",
        y_label="observed rate",
        x_range=(0.0, top),
        y_range=(0.0, top),
        diagonal=True,
    )


NEAR_CONSTANT = 0.99


def _constancy(row: dict[str, Any]) -> str:
    share = row.get("top_value_share")
    if share is None or share < NEAR_CONSTANT:
        return ""
    return " (constant)" if share >= 1.0 else f" (one value in {share:.0%})"


def drift(d: ReportData) -> str:
    rows = d.drift
    title = "Drift per feature (PSI against the model's reference; red = drifted)"
    if rows and all(r["psi"] is None for r in rows):
        flagged = [r["feature"] + _constancy(r) for r in rows if _constancy(r)]
        return empty(
            "drift",
            title,
            "not applicable today: the first day of a new model, with no earlier reference"
            + (f"; no use to the model today: {', '.join(flagged)}" if flagged else ""),
        )
    threshold = rows[0]["psi_threshold"] if rows else None
    return bar_chart(
        "drift",
        title,
        [r["feature"] + _constancy(r) for r in rows],
        [float(r["psi"] or 0.0) for r in rows],
        value_label="population stability index",
        highlight=[bool(r["drifted"]) for r in rows],
        threshold=threshold,
    )


def importance(d: ReportData) -> str:
    rows = d.importance
    units = rows[0]["units"] if rows else "log-odds"
    return bar_chart(
        "importance",
        f"Global importance: mean |contribution| ({units})",
        [r["feature"] for r in rows],
        [float(r["mean_abs_contribution"]) for r in rows],
        value_label=f"mean absolute contribution, {units}",
    )


def _offer_words(row: dict[str, Any]) -> str:
    """ "25 % off fish": what the offer is, next to its id."""
    category = (row["category"] or "?").replace("_", " ")
    return (
        category
        if row["discount_pct"] is None
        else f"{percent(row['discount_pct'])} off {category}"
    )


def top_offers(d: ReportData) -> str:
    rows = d.top_offers
    return bar_chart(
        "top-offers",
        "Most recommended offers (customers whose top K holds the offer), by offer id",
        [f"{r['offer_id']}: {_offer_words(r)}" for r in rows],
        [float(r["customers"]) for r in rows],
        value_label="customers",
    )


TRENDS = (
    ("trend-auc", "AUC over runs", ("auc", "val_auc_lr", "val_auc_lgbm"), "AUC"),
    ("trend-pool", "Candidate pool over runs", ("candidate_pool_size",), "pairs"),
    ("trend-recs", "Recommendations written over runs", ("recommendations_written",), "rows"),
    ("trend-drift", "Drift over runs", ("drift_share",), "share of features drifted"),
)
TREND_LABELS = {"auc": "evaluation AUC", "val_auc_lr": "validation AUC LR",
                "val_auc_lgbm": "validation AUC LightGBM"}  # fmt: skip


def trends(d: ReportData) -> list[str]:
    """One line chart per trend, dates on x (every run date of the metrics)."""
    dates = sorted({day for series in d.trends.values() for day, _ in series})
    pos = {day: i for i, day in enumerate(dates)}
    step = max(1, len(dates) // 6)
    ticks = [(float(i), day[5:]) for i, day in enumerate(dates) if i % step == 0]
    charts = []
    for name, title, metrics, unit in TRENDS:
        series = [
            Series(
                TREND_LABELS.get(m, m.replace("_", " ")),
                [float(pos[day]) for day, _ in d.trends.get(m, [])],
                [v for _, v in d.trends.get(m, [])],
            )
            for m in metrics
            if d.trends.get(m)
        ]
        charts.append(
            line_chart(
                name,
                title,
                series,
                x_label="run date",
                y_label=unit,
                x_ticks=ticks,
                x_range=(-0.5, len(dates) - 0.5),
            )
        )
    return charts
