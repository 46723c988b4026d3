"""The `offerrank` command's entry point: every command registered, errors as one line.

Exit codes: 0 success; 1 bad data or the environment (a contract violation, a failed
step, a full disk, a damaged or read-only store); 2 usage or configuration (a bad
option, a bad config file, a missing store); 130 interrupted. No path ends in a
traceback: an error nobody foresaw is reported as one `internal error` line
(`OFFERRANK_TRACEBACK=1` shows the traceback).
"""

from __future__ import annotations

import os
import sqlite3
import sys

import typer

from offerrank.cli import commands, delivery, inspect, models, simulate
from offerrank.cli.app import app, print_error
from offerrank.errors import OfferrankError, one_line
from offerrank.store.db import environment_error

COMMAND_MODULES = (commands, delivery, inspect, models, simulate)  # each adds its commands

# Click's usage-error class, whichever click (vendored or not) typer uses.
_UsageError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)


def headline(exc: BaseException, limit: int = 500) -> str:
    """What an unforeseen error says, without the stack a library put in its message
    (a Spark error carries the whole Java stack: its `at ...` lines are left out)."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    kept = [ln for ln in lines if ln and not ln.startswith(("at ", "... "))]
    text = one_line(" ".join(kept[:3]))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_app(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors, exit 0 / 1 (data, environment) / 2 (usage), never a
    traceback."""
    try:
        code = app(args=argv, prog_name="offerrank", standalone_mode=False)
    except _UsageError as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print_error(f"{one_line(message)}{hint}")
        sys.exit(2)
    except KeyboardInterrupt:
        print_error("aborted")
        sys.exit(130)
    except OfferrankError as exc:
        print_error(str(exc))
        sys.exit(exc.exit_code)
    except (OSError, sqlite3.Error) as exc:
        error = environment_error(exc, None)
        print_error(str(error))
        sys.exit(error.exit_code)
    except Exception as exc:
        if os.environ.get("OFFERRANK_TRACEBACK"):
            raise
        print_error(f"internal error: {type(exc).__name__}: {headline(exc)}")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
