"""Rich tables printed at the end of a command."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from offerrank.delivery.headline import HEADLINE
from offerrank.pipeline.daily import RunResult


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
