"""The `offerrank` command run in this process, as an operator runs it in a shell.

`invoke` returns the exit code, what went to stdout and stderr, and the traceback if
the command ended in an exception instead of an exit (which must never happen). In
process, a case costs milliseconds where a new interpreter costs a second; cases that
need another user (a read-only store, as root) run a batch through `python
tests/cli_driver.py`, which reads cases as JSON on stdin and answers JSON on stdout.
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import asdict, dataclass
from pathlib import Path

ENV = ("OFFERRANK_DB", "OFFERRANK_CONFIG")


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    traceback: str | None = None

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()


@contextmanager
def _environment(env: dict[str, str], cwd: Path | None) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in (*ENV, *env)}
    here = Path.cwd()
    for k in ENV:
        os.environ.pop(k, None)
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def invoke(
    argv: Sequence[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None
) -> Outcome:
    from offerrank.cli.main import run_app

    out, err = io.StringIO(), io.StringIO()
    trace = None
    with _environment(env or {}, cwd), redirect_stdout(out), redirect_stderr(err):
        try:
            run_app([str(a) for a in argv])
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else int(done.code is not None)
        except BaseException:  # noqa: BLE001 - that is what the case looks for
            trace, code = traceback.format_exc(), 1
    return Outcome(code, out.getvalue(), err.getvalue(), trace)


def main() -> None:
    cases = json.load(sys.stdin)
    outcomes = [
        invoke(c["argv"], c.get("env"), Path(c["cwd"]) if c.get("cwd") else None) for c in cases
    ]
    json.dump([asdict(o) for o in outcomes], sys.stdout)


if __name__ == "__main__":
    main()
