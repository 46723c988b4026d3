"""User-facing errors: each becomes one clear line and a non-zero exit code at the CLI edge.

Exit codes: 1 for bad data and the environment (a contract violation, a failed step, a
full disk, a damaged or read-only store), 2 for usage and configuration (a bad option,
a bad setting in a config file, a missing store).
"""

from __future__ import annotations


class OfferrankError(Exception):
    """Base of every error that is the user's input, not a bug. Exit code 1."""

    exit_code = 1


class UsageError(OfferrankError):
    """A bad option or setting: the command line or a config file is wrong. Exit code 2."""

    exit_code = 2


class ContractViolation(OfferrankError):
    """Data breaks a rule of the data contract; nothing was written."""


class RunError(OfferrankError):
    """A daily run cannot proceed for a stated reason (no data for the date, no labels ...)."""


def one_line(text: object) -> str:
    """A message from a library (SQLite, Arrow, a child process) as one line."""
    return " ".join(str(text).split())
