"""User-facing errors: each becomes one clear line and a non-zero exit code at the CLI edge."""

from __future__ import annotations


class OfferrankError(Exception):
    """Base of every error that is the user's input, not a bug. Exit code 1."""

    exit_code = 1


class ContractViolation(OfferrankError):
    """Data breaks a rule of the data contract; nothing was written."""


class RunError(OfferrankError):
    """A daily run cannot proceed for a stated reason (no data for the date, no labels ...)."""
