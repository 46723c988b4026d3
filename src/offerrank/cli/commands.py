"""Commands of `offerrank`. Each parses its options and calls one library function."""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import Path

import typer

from offerrank.cli.app import State, app, emit, err_console, parse_date, user_errors
from offerrank.store.db import require_store, require_writable


@app.command()
def generate(
    ctx: typer.Context,
    preset: str = typer.Option(
        "small", help="tiny | small | medium | large | xlarge | harsh (docs/worlds.md)"
    ),
    seed: int = typer.Option(7, min=0, help="Random seed: the same seed gives the same world."),
    start: str | None = typer.Option(None, help="First day of history (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, help="Last day of history (YYYY-MM-DD)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing store."),
) -> None:
    """Generate a synthetic retail world into the store.

    Example: offerrank --db data/metro.db generate --preset small --seed 7
    """
    from offerrank.progress import rich_progress
    from offerrank.world.generate import generate_world

    state: State = ctx.obj
    first, last = (
        parse_date(start, "--start") if start else None,
        parse_date(end, "--end") if end else None,
    )
    with user_errors(state), rich_progress(err_console, enabled=not (state.quiet or state.json)):
        db = state.settings().db_path
        if db.exists():
            require_writable(db)
        summary = generate_world(
            db,
            preset=preset,
            seed=seed,
            start=first,
            end=last,
            force=force,
        )
    emit(state, summary.as_dict(), summary.describe())


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="Folder of CSV or Parquet files named after tables."),
) -> None:
    """Import a retailer's own data (CSV or Parquet, one file per contract table).

    Every contract rule is checked first; on any violation nothing is written.

    Example: offerrank --db data/shop.db import ./exports/2026-02-16/
    """
    from offerrank.store.ingest.io import import_dir

    state: State = ctx.obj
    with user_errors(state):
        db = state.settings().db_path
        require_writable(db)
        summary = import_dir(db, folder)
    emit(state, summary.as_dict(), summary.describe())


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="Folder to write one file per contract table."),
    fmt: str = typer.Option("parquet", "--format", help="parquet | csv"),
    partition_by_day: bool = typer.Option(
        False,
        "--partition-by-day",
        help="Parquet for a Spark cluster: orders, order_items, impressions and redemptions"
        " as folders partitioned by day (<table>/<date column>=YYYY-MM-DD/).",
    ),
) -> None:
    """Export the store's contract tables to a folder.

    A rerun replaces the export; a failed one leaves the previous export as it was.

    Example: offerrank export ./backup --format csv
    Example: offerrank export ./lake --partition-by-day
    """
    from offerrank.store.ingest.io import export_dir

    state: State = ctx.obj
    with user_errors(state):
        summary = export_dir(
            state.settings().db_path, folder, fmt=fmt, partition_by_day=partition_by_day
        )
    emit(state, summary.as_dict(), summary.describe())


@app.command()
def run(
    ctx: typer.Context,
    date_: str | None = typer.Option(None, "--date", help="Run date D (YYYY-MM-DD)."),
    first: str | None = typer.Option(None, "--from", help="First date of a backfill."),
    last: str | None = typer.Option(None, "--to", help="Last date of a backfill (inclusive)."),
    force: bool = typer.Option(False, "--force", help="Rerun dates that already succeeded."),
    top_k: int | None = typer.Option(
        None, "--top-k", min=1, help="Offers per customer (default 10)."
    ),
    engine: str | None = typer.Option(None, "--engine", help="duckdb (default) | spark"),
) -> None:
    """Run the daily job: load, train, candidates, rank, explain, drift, evaluate.

    One date with --date; a backfill with --from/--to, which skips dates that already
    succeeded (unless --force) and so resumes where an interrupted backfill stopped.

    Example: offerrank run --date 2026-02-16
    Example: offerrank run --from 2026-02-01 --to 2026-02-17
    """
    from offerrank.cli.report import print_run_summary
    from offerrank.pipeline.daily import run_range
    from offerrank.progress import rich_progress

    state: State = ctx.obj
    if date_ and (first or last):
        raise typer.BadParameter("give either --date or --from/--to", param_hint="--date")
    if date_:
        start = end = parse_date(date_)
    elif first and last:
        start, end = parse_date(first, "--from"), parse_date(last, "--to")
        if end < start:
            raise typer.BadParameter(f"--to {end} is before --from {start}", param_hint="--to")
    else:
        raise typer.BadParameter("give --date, or both --from and --to", param_hint="--date")
    verbose = state.verbose  # step lines on a terminal; a redirected stderr gets errors only
    quiet = state.quiet or state.json
    with user_errors(state), rich_progress(err_console, enabled=verbose):
        settings = state.settings(top_k=top_k, engine=engine)
        require_store(settings.db_path)
        require_writable(settings.db_path)
        results = run_range(
            settings,
            start,
            end,
            force=force or start == end,
            on_step=(lambda s: err_console.print(f"[dim]  {s} ...[/]")) if verbose else None,
            on_date=None if quiet else partial(_print_date, verbose),
        )
    if state.json:
        emit(
            state,
            {
                "runs": [
                    {
                        "run_date": r.run_date,
                        "run_id": r.run_id,
                        "ok": r.ok,
                        "metrics": r.metrics,
                        "steps": [s.__dict__ for s in r.steps],
                    }
                    for r in results
                ]
            },
        )
    elif not state.quiet:
        for r in results:
            print_run_summary(r)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _print_date(verbose: bool, day: date, what: str) -> None:
    """A backfill's progress (`D: running`, `D: already done`): on stderr on a terminal,
    else on stdout, so that a log keeps it and stderr holds only errors."""
    if verbose:
        err_console.print(f"{day}: {what}")
    else:
        typer.echo(f"{day}: {what}")


@app.command()
def features(
    ctx: typer.Context,
    date_: str = typer.Option(..., "--date", help="As-of date T (YYYY-MM-DD)."),
    pairs: Path | None = typer.Option(
        None,
        "--pairs",
        help="CSV with customer_id, offer_id (default: every eligible pair of T).",
        exists=True,
        dir_okay=False,
    ),
    out: Path = typer.Option(..., "--out", help="CSV to write."),
) -> None:
    """Write the 22 features of (customer, offer) pairs as of a date, for debugging and parity.

    Example: offerrank features --date 2026-02-16 --pairs pairs.csv --out features.csv
    """
    from offerrank.cli.features import write_features
    from offerrank.progress import rich_progress

    state: State = ctx.obj
    as_of = parse_date(date_)
    with user_errors(state), rich_progress(err_console, enabled=not (state.quiet or state.json)):
        settings = state.settings()
        require_store(settings.db_path)
        n = write_features(settings, as_of, pairs, out)
    emit(state, {"rows": n, "out": str(out)}, f"wrote {n} rows to {out}")
