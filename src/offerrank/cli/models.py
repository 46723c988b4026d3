"""`offerrank models`: the registered model versions, and rolling back to one of them."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from offerrank.cli.app import State, app, emit, user_errors

if TYPE_CHECKING:
    from offerrank.training.registry import ActiveModel

T = TypeVar("T")

models_app = typer.Typer(
    help="List the model versions, or make one of them active.",
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(models_app, name="models")


@models_app.callback()
def models(ctx: typer.Context) -> None:
    """List every model version: validation figures, the last decision about it, and
    which one is active.

    Example: offerrank models
    """
    if ctx.invoked_subcommand is not None:
        return
    from offerrank.training.registry import list_models

    state: State = ctx.obj
    with user_errors(state):
        found = _with_store(state, list_models)
    if state.json:
        emit(state, {"models": [asdict(m) for m in found]})
        return
    if state.quiet:
        return
    # Wide when piped: a table squeezed to 80 columns is unreadable in a log or a file.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    if not found:
        console.print("no model trained yet (a run trains one: `offerrank run --date D`)")
        return
    table = Table(title_justify="left")
    for col in ("version", "active", "trained for", "window", "val AUC", "LR", "LightGBM",
                "val positives", "decision"):  # fmt: skip
        table.add_column(col, justify="right" if col in ("val AUC", "LR", "LightGBM") else "left")
    for m in found:
        table.add_row(
            m.version,
            "[green]active[/]" if m.active else "",
            m.trained_for,
            f"{m.train_window[0]}..{m.train_window[1]}" if m.train_window else "",
            _fmt(m.val_auc),
            _fmt(m.val_auc_lr),
            _fmt(m.val_auc_lgbm),
            "" if m.validation_positives is None else str(m.validation_positives),
            m.decision or "",
        )
    console.print(table)


@models_app.command("activate")
def activate(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="A version listed by `offerrank models`."),
) -> None:
    """Make a registered version the active model (a rollback), recorded in the registry.

    Example: offerrank models activate 2026-02-16-lgbm
    """
    from offerrank.store.db import transaction
    from offerrank.store.results import outputs
    from offerrank.training.registry import activate as make_active
    from offerrank.training.registry import load_active

    state: State = ctx.obj

    def switch(con: sqlite3.Connection) -> ActiveModel | None:
        before = load_active(con)
        model = make_active(con, version)
        with transaction(con):
            outputs.record_model_event(
                con,
                outputs.ModelEvent(
                    at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    model_version=version,
                    event="activated",
                    val_auc=model.sidecar.get("val_auc"),
                    incumbent_version=before.version if before else None,
                    detail="made active by hand (offerrank models activate)",
                ),
            )
        return before

    with user_errors(state):
        before = _with_store(state, switch)
    from offerrank.tracking.mlflow_tracking import follow_activation

    tracked = follow_activation(state.settings(), version)
    emit(
        state,
        {"active": version, "previous": before.version if before else None, "mlflow": tracked},
        f"active model: {version}"
        + (f" (was {before.version})" if before else "")
        + (f"\n{tracked}" if tracked else ""),
    )


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}"


def _with_store(state: State, fn: Callable[[sqlite3.Connection], T]) -> T:
    from offerrank.store.db import connect
    from offerrank.store.results.migrations import migrate

    con = connect(state.settings().db_path)
    try:
        migrate(con)
        return fn(con)
    finally:
        con.close()
