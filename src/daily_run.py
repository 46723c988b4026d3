"""Seed-compatible entry point: `python -m src.daily_run --date YYYY-MM-DD [--db PATH]`.

The same as `offerrank run --date D`; kept so that the operators' original command works
verbatim from the repository root.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from offerrank.cli.main import run_app

    args = list(sys.argv[1:] if argv is None else argv)
    # Global options (--db, --config, --quiet, --json) must precede the command name.
    globals_, rest = [], []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--db", "--config") and i + 1 < len(args):
            globals_ += [a, args[i + 1]]
            i += 2
            continue
        if a.startswith(("--db=", "--config=")) or a in ("--quiet", "-q", "--json"):
            globals_.append(a)
        else:
            rest.append(a)
        i += 1
    sys.argv = ["daily_run", *globals_, "run", *rest]
    run_app()


if __name__ == "__main__":
    main()
