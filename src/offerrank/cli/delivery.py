"""Commands for downstream readers: `recommendations` (exports)."""

from __future__ import annotations

from pathlib import Path

import typer

from offerrank.cli import commands  # as a module: it is still loading when this registers
from offerrank.cli.main import State, app


@app.command()
def recommendations(
    ctx: typer.Context,
    date_: str = typer.Option(..., "--date", help="Run date D (YYYY-MM-DD)."),
    out: Path = typer.Option(..., "--out", help="File to write: .parquet or .csv."),
    customers: Path | None = typer.Option(
        None,
        "--customers",
        help="Only these customers: a CSV or Parquet file with a customer_id column.",
        exists=True,
        dir_okay=False,
    ),
) -> None:
    """Export a day's recommendations for channels: one row per served offer, with its
    product, score, reasons, model version and run id (schema: README, Exports).

    Example: offerrank recommendations --date 2026-02-17 --out offers.parquet
    Example: offerrank recommendations --date 2026-02-17 --out crm.csv --customers vip.csv
    """
    from offerrank.delivery.export import export_recommendations

    state: State = ctx.obj
    run_date = commands.parse_date(date_)
    with commands.user_errors():
        summary = export_recommendations(state.settings(), run_date, out, customers)
    commands.emit(state, summary.as_dict(), summary.describe())
