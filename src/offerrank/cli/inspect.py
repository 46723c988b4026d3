"""Commands that look at what runs wrote: `status`, `explain` and `report`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from offerrank.cli.app import State, app, emit, parse_date, user_errors
from offerrank.delivery.offers import percent

if TYPE_CHECKING:
    from offerrank.monitoring.explain_pair import PairExplanation

COLOUR = {"success": "green", "skipped": "yellow"}


@app.command()
def status(
    ctx: typer.Context,
    last: int = typer.Option(5, "--last", min=1, help="How many recent runs to show."),
    date_: str | None = typer.Option(None, "--date", help="Only the runs of this date."),
) -> None:
    """Show the last runs and their steps from pipeline_runs, failed runs first.

    Example: offerrank status --last 3
    """
    from offerrank.pipeline.status import recent_runs

    state: State = ctx.obj
    with user_errors(state):
        runs = recent_runs(state.settings(), last, parse_date(date_) if date_ else None)
    if state.json:
        emit(state, {"runs": [r.as_dict() for r in runs]})
        return
    if state.quiet:
        return
    console = Console()
    if not runs:
        console.print("no runs recorded yet (start one with `offerrank run --date D`)")
    for r in runs:
        colour = COLOUR.get(r.status, "red")
        table = Table(
            title=f"{r.run_date}  run {r.run_id}  [{colour}]{r.status}[/]  started {r.started_at}",
            title_justify="left",
        )
        for col in ("step", "status", "seconds", "detail"):
            table.add_column(col, overflow="fold", justify="right" if col == "seconds" else "left")
        for s in r.steps:
            secs = "" if s["duration_s"] is None else f"{s['duration_s']:.2f}"
            table.add_row(
                s["step"], f"[{COLOUR.get(s['status'], 'red')}]{s['status']}[/]", secs,
                s["detail"] or "",
            )  # fmt: skip
        console.print(table)
        if r.figures:
            console.print("  " + run_figures(r.figures))
        for warning in r.warnings:
            console.print(f"  [yellow]warning:[/] {warning}", highlight=False)


def run_figures(figures: dict[str, float]) -> str:
    """The evaluation in one line: each figure with its interval, the positives it rests
    on, and the baselines beside precision."""

    def one(name: str, label: str) -> str | None:
        if name not in figures:
            return None
        lo, hi = figures.get(f"{name}_ci_low"), figures.get(f"{name}_ci_high")
        ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
        return f"{label} {figures[name]:.4f}{ci}"

    parts = [
        one("candidate_recall", "candidate recall"),
        one("auc", "AUC"),
        one("precision_at_k", "precision@k"),
        one("precision_at_k_popularity", "popularity"),
        one("precision_at_k_random", "random"),
        one("calibration_ratio", "calibration ratio"),
    ]
    text = ", ".join(p for p in parts if p)
    if "n_positives" in figures:
        text += f" on {figures['n_positives']:.0f} positives"
        if figures.get("evaluation_low_confidence") == 1:
            text += " (low confidence)"
    return text


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.4g}"


@contextmanager
def _output() -> Iterator[tuple[Console, box.Box]]:
    """A terminal gets rich tables at its width. A pipe or a file gets plain text: wide
    tables without box drawing or truncated names, no trailing spaces, so that it reads
    well in a log or an email and greps well."""
    console = Console()
    if console.is_terminal:
        yield console, box.HEAVY_HEAD
        return
    plain = Console(width=PLAIN_WIDTH, no_color=True, highlight=False)
    with plain.capture() as captured:
        yield plain, box.SIMPLE
    typer.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


PLAIN_WIDTH = 240


def _offer_name(offer: dict[str, Any] | None) -> str:
    return f": {offer['label']}" if offer else ""


def _print_explanation(e: PairExplanation) -> None:
    with _output() as (console, style):
        _print_tables(console, style, e)


def _print_tables(console: Console, style: box.Box, e: PairExplanation) -> None:
    console.print(f"top {len(e.top)} of customer {e.customer_id} on {e.run_date}")
    top = Table(box=style)
    for col in ("rank", "offer", "product", "category", "discount", "score", "reasons"):
        top.add_column(col, justify="left" if col in ("category", "reasons") else "right",
                       overflow="fold")  # fmt: skip
    for t in e.top:
        mark = " ◀" if t["offer_id"] == e.offer_id else ""
        top.add_row(
            str(t["rank"]), f"{t['offer_id']}{mark}", str(t.get("product_id", "?")),
            str(t.get("category", "?")),
            percent(t["discount_pct"]) if "discount_pct" in t else "?",
            f"{t['score']:.4f}", "; ".join(t.get("reasons", [])),
        )  # fmt: skip
    console.print(top)
    origin = "stored sample" if e.sampled else "computed on demand"
    console.print(
        f"pair ({e.customer_id}, {e.offer_id}), offer {e.offer_id}{_offer_name(e.offer)}\n"
        f"rank {e.rank if e.rank is not None else '> K'},"
        f" score {e.score:.4f}, {e.log_odds:+.3f} {e.units} = bias {e.bias:+.3f} + contributions"
        f"; model {e.model_version}, {e.method} ({origin})\n\ncontributions, largest first"
    )
    feats = Table(box=style)
    for col in ("feature", "value", "typical (median)", "p25 – p75", e.units):
        feats.add_column(col, justify="left" if col == "feature" else "right")
    for f in e.features:
        c = f["contribution"]
        feats.add_row(
            f["feature"], _fmt(f["value"]), _fmt(f["typical_median"]),
            f"{_fmt(f['typical_p25'])} – {_fmt(f['typical_p75'])}",
            f"[{'green' if c > 0 else 'red'}]{c:+.4f}[/]",
        )  # fmt: skip
    console.print(feats)
    if e.versus:
        v = e.versus
        console.print(
            f"against offer {v['offer_id']}{_offer_name(v.get('offer'))}\n"
            f"{v['relation']}, score {v['score']:.4f}:"
            f" {v['log_odds_difference']:+.3f} {e.units} in total"
        )
        vs = Table(box=style)
        for col in ("feature", f"offer {e.offer_id}", f"offer {v['offer_id']}", "difference"):
            vs.add_column(col, justify="left" if col == "feature" else "right")
        for d in v["differences"][:10]:
            c = d["contribution_difference"]
            vs.add_row(d["feature"], _fmt(d["value"]), _fmt(d["other_value"]),
                       f"[{'green' if c > 0 else 'red'}]{c:+.4f}[/]")  # fmt: skip
        console.print(vs)
    for note in e.notes:
        console.print(f"[yellow]{note}[/]")


@app.command()
def explain(
    ctx: typer.Context,
    date_: str = typer.Option(..., "--date", help="Run date D (YYYY-MM-DD)."),
    customer: int = typer.Option(..., "--customer", help="Customer id."),
    offer: int | None = typer.Option(None, "--offer", help="Offer id (default: the rank-1 one)."),
) -> None:
    """Explain a customer's ranking: top-K, a pair's contributions, and what beat the next offer.

    Contributions are in log-odds (TreeSHAP for LightGBM, coefficient x standardised value
    for logistic regression); a pair that was not sampled by the run is computed on demand.

    Example: offerrank explain --date 2026-02-17 --customer 42 --offer 1234
    """
    from offerrank.monitoring.explain_pair import explain_pair

    state: State = ctx.obj
    run_date = parse_date(date_)
    with user_errors(state):
        result = explain_pair(state.settings(), run_date, customer, offer)
    if state.json:
        emit(state, result.as_dict())
    elif not state.quiet:
        _print_explanation(result)


@app.command()
def report(
    ctx: typer.Context,
    date_: str = typer.Option(..., "--date", help="Run date D (YYYY-MM-DD)."),
) -> None:
    """Write the run report of a date: one self-contained HTML file that opens offline.

    Example: offerrank report --date 2026-02-17
    """
    from offerrank.report import write_report

    state: State = ctx.obj
    run_date = parse_date(date_)
    with user_errors(state):
        path = write_report(state.settings(), run_date)
    emit(state, {"run_date": run_date, "path": str(path)}, f"wrote {path}")
