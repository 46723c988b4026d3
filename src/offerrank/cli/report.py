"""Rich tables printed at the end of a command."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from offerrank.delivery.headline import HEADLINE, headline_value
from offerrank.pipeline.daily import RunResult

# The figures a low-confidence evaluation (few positives) qualifies.
LOW_CONFIDENCE = ("auc", "precision_at_k", "recall_at_k", "margin_lift_at_k", "calibration_ratio")


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
    low = result.metrics.get("evaluation_low_confidence") == 1
    for name in HEADLINE:
        if name in result.metrics:
            flag = " (low confidence)" if low and name in LOW_CONFIDENCE else ""
            metrics.add_row(name, headline_value(result.metrics, name) + flag)
    console.print(metrics)
    for note in result.notes:
        console.print(f"[yellow]{note}[/]")
