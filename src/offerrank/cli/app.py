"""The `offerrank` Typer app, its global options and what every command shares.

Command modules (`commands`, `inspect`, `simulate`) import `app` from here and add
their commands to it; `cli.main` imports them all and is the entry point. Errors are
turned into one line on stderr and an exit code here (`fail`, `user_errors`) and, as a
last resort, in `cli.main.run_app`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from offerrank.config import DB_ENV, Settings, load_settings
from offerrank.errors import OfferrankError
from offerrank.store.db import environment_error

app = typer.Typer(
    name="offerrank",
    help="Daily batch offer ranking: features, models, top-K offers, drift and evaluation.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

err_console = Console(stderr=True)


@dataclass
class State:
    db: Path | None = None
    config: Path | None = None
    quiet: bool = False
    json: bool = False
    db_path: Path | None = None  # the store of the last settings loaded, for error messages

    def settings(self, **overrides: Any) -> Settings:
        """The settings of this command: defaults, config file, then the given options
        (named by their option, e.g. `top_k` is `--top-k`, in a message about them)."""
        if self.db is not None:
            overrides = {"db_path": self.db, **overrides}
        settings = load_settings(self.config, overrides)
        self.db_path = settings.db_path
        return settings

    @property
    def verbose(self) -> bool:
        """Progress and status lines on stderr: only on an interactive terminal, so that
        a redirected stderr holds nothing but errors."""
        return not (self.quiet or self.json) and err_console.is_interactive


@app.callback()
def main(
    ctx: typer.Context,
    db: Path | None = typer.Option(
        None,
        "--db",
        envvar=DB_ENV,
        help="Store file (default data/metro.db).",
        show_default=False,
        readable=False,  # an unreadable store is the environment's fault: exit 1, not 2
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="TOML configuration file (keys of Settings).",
        exists=True,
        dir_okay=False,
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors."),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON for scripts."),
) -> None:
    """Daily batch offer ranking: features, models, top-K offers, drift and evaluation."""
    ctx.obj = State(db=db, config=config, quiet=quiet, json=as_json)


def print_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    print_error(message)
    raise typer.Exit(code)


@contextmanager
def user_errors(state: State | None = None) -> Iterator[None]:
    """Turn an OfferrankError into one red line and its exit code; a failure of the
    store or the file system (disk full, read-only, not a database) into one line that
    names the file."""
    try:
        yield
    except OfferrankError as exc:
        fail(str(exc), exc.exit_code)
    except (OSError, sqlite3.Error) as exc:
        error = environment_error(exc, state.db_path if state else None)
        fail(str(error), error.exit_code)


def parse_date(value: str, name: str = "--date") -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date in YYYY-MM-DD form", param_hint=name
        ) from None


def emit(state: State, payload: dict, human: str | None = None) -> None:
    if state.json:
        typer.echo(json.dumps(payload, default=str, sort_keys=True))
    elif not state.quiet and human:
        typer.echo(human)
