"""Assemble the report page: inline CSS and SVG only, so it opens offline from disk."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from offerrank.config import Settings
from offerrank.errors import OfferrankError
from offerrank.report import charts
from offerrank.report.data import ReportData, read_report_data
from offerrank.store.db import connect
from offerrank.store.results.migrations import migrate

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px}.card b{display:block;font-size:18px}
.card span{color:#666;font-size:12px}.ok{color:#2ca02c}.bad{color:#d62728}.warn{color:#b8860b}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-weight:600}
svg text{font-size:11px;fill:#333}svg text.axis{font-size:12px;fill:#555}
table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #eee;padding:3px 8px;
text-align:left;vertical-align:top}td.n{text-align:right}.legend{font-size:12px}
.key{margin-right:12px}.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
p.empty{color:#888;font-style:italic;width:560px}
.warnings{border:1px solid #b8860b;background:#fff8e1;border-radius:6px;padding:8px 12px}
"""

HEALTH = (
    ("active_offers", "active offers"),
    ("eligible_customers", "eligible customers"),
    ("candidate_pool_size", "candidate pool"),
    ("candidate_recall", "candidate recall"),
    ("recommendations_written", "recommendations written"),
    ("customers_with_recommendations", "customers served"),
    ("coverage", "offer coverage"),
    ("diversity", "category diversity"),
    ("n_positives", "evaluated positives"),
    ("auc", "evaluation AUC"),
    ("oracle_auc", "oracle AUC"),
    ("precision_at_k", "precision@k"),
    ("precision_at_k_popularity", "precision@k, popularity order"),
    ("precision_at_k_random", "precision@k, random order"),
    ("margin_lift_at_k", "margin lift@k"),
    ("calibration_ratio", "mean prediction / observed rate"),
    ("ece", "expected calibration error"),
    ("features_drifted", "features drifted"),
    ("retrained", "retrained today"),
)
# Figures a low-confidence evaluation (fewer than min_evaluation_positives) qualifies.
EVALUATED = ("auc", "precision_at_k", "margin_lift_at_k", "calibration_ratio", "ece")


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.4f}"
    if isinstance(v, (int, float)):
        return f"{v:,.0f}"
    return escape(str(v))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_fmt(r[c])}</td>'
            if isinstance(r[c], (int, float))
            else f"<td>{_fmt(r[c])}</td>"
            for c in columns
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _health(d: ReportData) -> str:
    failed = [s for s in d.steps if s["status"] not in ("success", "skipped")]
    status = (
        '<b class="bad">failed: ' + escape(", ".join(s["step"] for s in failed)) + "</b>"
        if failed
        else ('<b class="ok">all steps succeeded</b>' if d.steps else "<b>no run recorded</b>")
    )
    drift_flag = d.metrics.get("dataset_drift")
    cards = [f'<div class="card">{status}<span>run {escape(d.run_id or "–")}</span></div>']
    if drift_flag is not None:
        cls, txt = ("bad", "dataset drift") if drift_flag else ("ok", "no dataset drift")
        cards.append(f'<div class="card"><b class="{cls}">{txt}</b><span>drift</span></div>')
    low = d.metrics.get("evaluation_low_confidence") == 1
    costs = d.metrics.get("unit_costs")
    for key, label in HEALTH:
        if key not in d.metrics or (key == "margin_lift_at_k" and costs == 0):
            continue
        if key == "margin_lift_at_k" and costs == 1:
            label += " (assumed unit costs)"
        lo, hi = d.metrics.get(f"{key}_ci_low"), d.metrics.get(f"{key}_ci_high")
        ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
        mark = ' <em class="warn">low confidence</em>' if low and key in EVALUATED else ""
        cards.append(
            f'<div class="card"><b>{_fmt(d.metrics[key])}</b><span>{label}{ci}{mark}</span></div>'
        )
    return '<div class="grid">' + "".join(cards) + "</div>"


def _warnings(d: ReportData) -> str:
    """The run's warnings, first thing on the page."""
    if not d.warnings:
        return ""
    items = "".join(f"<li>{escape(w)}</li>" for w in d.warnings)
    return f'<div class="warnings"><b class="warn">Warnings</b><ul>{items}</ul></div>'


def _model(d: ReportData) -> str:
    m = d.model
    if m is None:
        return "<p>No recommendations, so no model, for this date.</p>"
    rows = [
        {"model": "Logistic Regression", "validation AUC": m["val_auc_lr"]},
        {"model": "LightGBM", "validation AUC": m["val_auc_lgbm"]},
    ]
    winner = "LightGBM" if m["model_type"] == "lightgbm" else "Logistic Regression"
    return (
        f"<p>Active model <b>{escape(m['model_version'])}</b> ({winner}), trained for "
        f"{escape(m['trained_for'])} on {escape(' to '.join(m['train_window'] or []))}, "
        f"validated on {escape(' to '.join(m['validation_window'] or []))}.</p>"
        + _table(rows, ["model", "validation AUC"])
    )


# Marks each chart the browser actually laid out (a non-empty box): the page's own check,
# read back by the headless-browser test.
CHECK_SCRIPT = """
(function () {
  var figs = document.querySelectorAll("figure.chart:not(.empty)"), drawn = 0;
  figs.forEach(function (f) {
    var ok = Array.prototype.some.call(f.querySelectorAll("svg .mark"), function (m) {
      var b = m.getBBox();
      return b.width > 0 || b.height > 0;
    });
    if (ok) { drawn += 1; f.setAttribute("data-drawn", "1"); }
  });
  document.body.setAttribute("data-charts", String(figs.length));
  document.body.setAttribute("data-charts-drawn", String(drawn));
})();
"""


def render(d: ReportData) -> str:
    """The whole page as one string."""
    k = d.metrics.get("k")
    sections = [
        ("Health", _health(d)),
        ("Steps", '<div class="charts">' + charts.step_timings(d) + "</div>"
         + _table(d.steps, ["step", "status", "duration_s", "detail"])),
        ("Model comparison", _model(d) + '<div class="charts">' + charts.validation_roc(d)
         + charts.evaluation_roc(d) + "</div>"),
        (f"Ranking quality over k (reported k = {_fmt(k)})", '<div class="charts">'
         + charts.precision_recall(d) + charts.margin_lift(d) + charts.calibration(d) + "</div>"),
        ("Drift per feature", charts.drift(d)),
        ("Global importance", charts.importance(d)),
        ("Most recommended offers", '<div class="charts">' + charts.top_offers(d) + "</div>"
         + _table(d.top_offers, ["offer_id", "product_id", "category", "discount_pct",
                                 "customers", "at_rank_1", "mean_score"])),
        ("Trends over past runs", '<div class="charts">' + "".join(charts.trends(d)) + "</div>"),
    ]  # fmt: skip
    stamp = datetime.now(timezone.utc).isoformat(sep=" ", timespec="seconds")
    ids = [re.sub(r"[^a-z]+", "-", t.lower()).strip("-") for t, _ in sections]
    titles = [t for t, _ in sections]
    nav = " · ".join(f'<a href="#{i}">{escape(t)}</a>' for i, t in zip(ids, titles, strict=True))
    body = f"<nav>{nav}</nav>" + "".join(
        f'<section id="{i}"><h2>{escape(t)}</h2>{html}</section>'
        for i, (t, html) in zip(ids, sections, strict=True)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>offerrank run {escape(d.run_date)}</title><style>{CSS}</style></head><body>"
        f"<h1>offerrank run report · {escape(d.run_date)}</h1>"
        f"<p>Generated {stamp} from the store; figures are those the run recorded.</p>"
        f"{_warnings(d)}{body}<script>{CHECK_SCRIPT}</script></body></html>"
    )


def write_report(settings: Settings, run_date: date) -> Path:
    """Write `<reports_dir>/<D>/index.html` from the store and return its path."""
    day = run_date.isoformat()
    con = connect(settings.db_path)
    try:
        migrate(con)
        if not con.execute("SELECT 1 FROM pipeline_runs WHERE run_date = ?", (day,)).fetchone():
            raise OfferrankError(f"no run recorded for {day}: run `offerrank run --date {day}`")
        data = read_report_data(con, day)
    finally:
        con.close()
    folder = settings.reports_dir / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(path)
    return path
