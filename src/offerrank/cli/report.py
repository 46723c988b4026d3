"""Rich tables printed at the end of a command."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from offerrank.pipeline.daily import RunResult

HEADLINE = (
    "active_offers",
    "eligible_customers",
    "candidate_pool_size",
    "candidate_recall",
    "recommendations_written",
    "customers_with_recommendations",
    "val_auc_lr",
    "val_auc_lgbm",
    "auc",
    "oracle_auc",
    "precision_at_k",
    "recall_at_k",
    "margin_lift_at_k",
    "coverage",
    "diversity",
    "brier",
    "drift_share",
)


def print_run_summary(result: RunResult, console: Console | None = None) -> None:
    console = console or Console()
    steps = Table(title=f"run {result.run_date} ({result.run_id})", title_justify="left")
    for col in ("step", "status", "seconds", "detail"):
        steps.add_column(col, overflow="fold")
    colour = {"success": "green", "skipped": "yellow"}
    for s in result.steps:
        steps.add_row(
            s.step, f"[{colour.get(s.status, 'red')}]{s.status}[/]", f"{s.duration_s:.2f}", s.detail
        )
    console.print(steps)
    metrics = Table(title="metrics", title_justify="left")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for name in HEADLINE:
        if name in result.metrics:
            v = result.metrics[name]
            metrics.add_row(name, f"{v:,.0f}" if float(v).is_integer() else f"{v:.4f}")
    console.print(metrics)
    for note in result.notes:
        console.print(f"[yellow]{note}[/]")
