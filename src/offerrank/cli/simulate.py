"""`offerrank simulate`: run ranking policies in closed loop against a synthetic world."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from offerrank.cli.app import State, app, err_console, parse_date, user_errors

if TYPE_CHECKING:
    from offerrank.simulation.loop import SimConfig
    from offerrank.simulation.run import SimulationResult, Variant
    from offerrank.simulation.summary import Interval


@app.command()
def simulate(
    ctx: typer.Context,
    first: str = typer.Option(..., "--from", help="First simulated day (YYYY-MM-DD)."),
    last: str = typer.Option(..., "--to", help="Last simulated day (inclusive)."),
    policy: str = typer.Option(
        "model", "--policy", help="model | random | popularity | oracle, or a comma list."
    ),
    seeds: int = typer.Option(1, "--seeds", min=1, help="Continuation seeds (CIs need >= 2)."),
    k: int = typer.Option(3, "--k", min=1, help="Offers shown per contacted customer and day."),
    rank_by: str | None = typer.Option(
        None, "--rank-by", help="probability | expected_margin (model and oracle)."
    ),
    serving: str | None = typer.Option(
        None, "--serving", help="greedy | epsilon | plackett_luce (model only)."
    ),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Folder for the per-policy store copies (default: a temp dir)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Simulate policies day by day on a copy of a synthetic world and compare their value.

    Each day the policy's top K per contacted customer become the world's impressions,
    the world draws redemptions from its true probabilities, and (for `model`) the normal
    daily run scores the next day on the grown store. The store itself is never changed.

    Example: offerrank --db data/sim.db simulate --from 2026-02-17 --to 2026-02-23
    --policy model,random,popularity,oracle --seeds 3
    """
    from offerrank.simulation.loop import SimConfig
    from offerrank.simulation.run import parse_variants
    from offerrank.simulation.run import simulate as run_simulation
    from offerrank.simulation.summary import as_json as summary_json

    state: State = ctx.obj
    d1, d2 = parse_date(first, "--from"), parse_date(last, "--to")
    with user_errors(state):
        settings = state.settings(rank_by=rank_by, serving=serving)
        variants = parse_variants(policy, settings.rank_by, settings.serving)
        folder = workdir or Path(tempfile.mkdtemp(prefix="offerrank_sim_"))
        cfg = SimConfig(settings.db_path, folder, d1, d2, settings, k=k, seeds=seeds)
        quiet = state.quiet or state.json or as_json
        result = _run(cfg, variants, quiet, run_simulation)
    if state.json or as_json:
        payload = {
            "from": d1.isoformat(),
            "to": d2.isoformat(),
            "k": k,
            "seeds": seeds,
            "workdir": str(folder),
            "seconds": round(result.seconds, 1),
            "policies": summary_json(result.summary),
        }
        typer.echo(json.dumps(payload, sort_keys=True, default=str))
    elif not state.quiet:
        _print_table(result.summary, d1, d2, seeds, folder)


def _run(
    cfg: SimConfig,
    variants: list[Variant],
    quiet: bool,
    run_simulation: Callable[..., SimulationResult],
) -> SimulationResult:
    """The simulation, with a progress bar over (policy, seed, day) on an interactive
    stderr unless quiet (stdout keeps only the results)."""
    from offerrank.progress import progress_task, rich_progress

    total = len(variants) * cfg.seeds * len(cfg.days)
    with rich_progress(err_console, enabled=not quiet), progress_task("simulation", total) as step:

        def tick(label: str, seed: int, day: date) -> None:
            step(1, label=f"{label} seed {seed}: {day}")

        return run_simulation(cfg, variants, on_day=tick)


def _print_table(
    summary: dict[str, dict[str, Interval]], d1: date, d2: date, seeds: int, folder: Path
) -> None:
    from rich.console import Console
    from rich.table import Table

    from offerrank.simulation.summary import table_rows

    header, rows = table_rows(summary)
    table = Table(title=f"simulated {d1}..{d2}, {seeds} seed(s): mean ± 95% CI over seeds")
    for name in header:
        table.add_column(name, justify="left" if name == "policy" else "right")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    typer.echo(f"store copies: {folder}")
