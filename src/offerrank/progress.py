"""Progress of long work, shown by whoever runs the library, or by nobody.

The library marks its long loops with `progress_task` (or `track`) and never knows how,
or whether, progress is displayed. A front end installs a `Reporter` for the current
context (`use_reporter`; the command line uses `rich_progress`). The reporter lives in a
ContextVar, so it follows the call stack down through features, training and scoring
without being passed as an argument, and two contexts (tests, threads started with
`contextvars.copy_context`) never see each other's bars. With no reporter installed a
task costs one ContextVar lookup and its `advance` does nothing.

Rich is imported only inside `rich_progress`: the library itself does not depend on it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")


class Reporter(Protocol):
    """Receives tasks: started with a name and total, advanced, then finished."""

    def start(self, name: str, total: float | None) -> Hashable: ...
    def advance(self, task: Hashable, amount: float, label: str | None) -> None: ...
    def finish(self, task: Hashable) -> None: ...


class Advance(Protocol):
    """What a task's `with` block receives: `advance()` ticks once; `label` says what
    the task is on now (e.g. the feature stage being built)."""

    def __call__(self, amount: float = 1, label: str | None = None) -> None: ...


_REPORTER: ContextVar[Reporter | None] = ContextVar("offerrank_progress", default=None)


def _nothing(amount: float = 1, label: str | None = None) -> None:
    return None


def current_reporter() -> Reporter | None:
    """The reporter installed for this context, if any."""
    return _REPORTER.get()


@contextmanager
def use_reporter(reporter: Reporter | None) -> Iterator[None]:
    """Install `reporter` (None: none) for the duration of the block, in this context."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


@contextmanager
def progress_task(name: str, total: float | None = None) -> Iterator[Advance]:
    """A unit of long work: `with progress_task("scoring", total=n) as advance: ...`.

    The task is finished when the block ends, normally or by an exception, so a bar
    never outlives its work.
    """
    reporter = _REPORTER.get()
    if reporter is None:
        yield _nothing
        return
    task = reporter.start(name, total)

    def advance(amount: float = 1, label: str | None = None) -> None:
        reporter.advance(task, amount, label)

    try:
        yield advance
    finally:
        reporter.finish(task)


def track(
    items: Iterable[T],
    name: str,
    total: float | None = None,
    label: Callable[[T], object] = str,
) -> Iterator[T]:
    """Yield each item as one tick of a task named `name`, labelled by `label(item)`.

    The tick comes when the loop asks for the next item, i.e. after the item's work.
    `total` defaults to len(items) when items has a length.
    """
    if total is None and isinstance(items, Sized):
        total = len(items)
    with progress_task(name, total) as advance:
        for item in items:
            advance(0, label=str(label(item)))
            yield item
            advance(1)


def lightgbm_callback(advance: Advance) -> Callable[[Any], None]:
    """A `lightgbm.train` callback that ticks once per boosting round."""

    def tick(env: Any) -> None:
        advance(1)

    return tick


class _RichReporter:
    """One Rich progress bar per open task; a finished task's bar is removed at once."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.names: dict[Hashable, str] = {}

    def start(self, name: str, total: float | None) -> Hashable:
        task = self.progress.add_task(name, total=total)
        self.names[task] = name
        return task

    def advance(self, task: Hashable, amount: float, label: str | None) -> None:
        if label is None:
            self.progress.advance(task, amount)
        else:
            description = f"{self.names[task]}: {label}"
            self.progress.update(task, advance=amount, description=description)

    def finish(self, task: Hashable) -> None:
        self.progress.remove_task(task)
        self.names.pop(task, None)


@contextmanager
def rich_progress(console: Console, *, enabled: bool = True) -> Iterator[None]:
    """Show every task started inside the block as a transient bar on `console`.

    Nothing is installed when `enabled` is false (--quiet, --json) or when the console
    is not interactive: stderr redirected to a file or a pipe gets no bars, unless Rich
    is told otherwise (FORCE_COLOR, TTY_COMPATIBLE=1, TTY_INTERACTIVE=1). stdout is
    never redirected, so it stays clean for scripts.
    """
    if not (enabled and console.is_interactive):
        yield
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        redirect_stdout=False,
    )
    with progress, use_reporter(_RichReporter(progress)):
        yield
