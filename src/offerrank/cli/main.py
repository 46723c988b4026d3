"""The `offerrank` command: global options and the command list.

Every command is a thin shell over a library function; errors that are the user's
(`OfferrankError`) become one line on stderr and exit code 1, usage errors exit 2.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from offerrank.config import DB_ENV, Settings, load_settings
from offerrank.errors import OfferrankError

app = typer.Typer(
    name="offerrank",
    help="Daily batch offer ranking: features, models, top-K offers, drift and evaluation.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

err_console = Console(stderr=True)

# Click's usage-error and abort classes, whichever click (vendored or not) typer uses.
_UsageError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)
_Abort: type[BaseException] = KeyboardInterrupt


@dataclass
class State:
    db: Path | None = None
    config: Path | None = None
    quiet: bool = False
    json: bool = False

    def settings(self, **overrides: Any) -> Settings:
        if self.db is not None:
            overrides = {"db_path": self.db, **overrides}
        return load_settings(self.config, overrides)


@app.callback()
def main(
    ctx: typer.Context,
    db: Path | None = typer.Option(
        None, "--db", envvar=DB_ENV, help="Store file (default data/metro.db).", show_default=False
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


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run_app(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors, exit 0 / 1 (user error) / 2 (usage), never a traceback."""
    try:
        code = app(args=argv, prog_name="offerrank", standalone_mode=False)
    except _UsageError as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err_console.print(f"[bold red]error:[/] {message}{hint}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except _Abort:
        err_console.print("[bold red]aborted[/]")
        sys.exit(130)
    except OfferrankError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _register() -> None:
    # Imported for their side effect of adding commands to `app`.
    from offerrank.cli import commands, delivery, inspect, models, simulate  # noqa: F401


_register()
