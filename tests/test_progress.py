"""Progress reporting: the library's tasks reach an installed reporter, and only it.

A recording reporter stands in for the terminal: it keeps every start, tick and finish,
so a test can say which long work a daily run announced, with which totals.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import shutil
import sqlite3
import threading
from collections.abc import Hashable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from offerrank.engines.duckdb.engine import predict_in_chunks
from offerrank.features.plans import STAGES
from offerrank.progress import current_reporter, progress_task, rich_progress, track, use_reporter
from offerrank.training.models import (
    fit_lightgbm,
    fit_logistic,
    predict_proba,
)

FIXTURES = Path(__file__).parent / "fixtures"
HIDE_CURSOR = "\x1b[?25l"  # what a live progress display writes first


class Recorder:
    """Keeps ("start", name, total), ("advance", name, amount, label), ("finish", name)."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def start(self, name: str, total: float | None) -> Hashable:
        self.events.append(("start", name, total))
        return (len(self.events), name)

    def advance(self, task: Hashable, amount: float, label: str | None) -> None:
        self.events.append(("advance", task[1], amount, label))  # type: ignore[index]

    def finish(self, task: Hashable) -> None:
        self.events.append(("finish", task[1]))  # type: ignore[index]

    def tasks(self) -> list[dict[str, Any]]:
        """One dict per task (name, total, ticks, labels, finished), nesting respected."""
        out: list[dict[str, Any]] = []
        open_: dict[str, list[dict[str, Any]]] = {}
        for kind, name, *rest in self.events:
            if kind == "start":
                task = {"name": name, "total": rest[0], "ticks": 0.0, "labels": []}
                task["finished"] = False
                out.append(task)
                open_.setdefault(name, []).append(task)
            elif kind == "advance":
                task = open_[name][-1]
                task["ticks"] += rest[0]
                if rest[1] is not None:
                    task["labels"].append(rest[1])
            else:
                open_[name].pop()["finished"] = True
        return out

    def named(self, name: str) -> list[dict[str, Any]]:
        return [t for t in self.tasks() if t["name"] == name]


# --- the seam --------------------------------------------------------------------------


def test_without_a_reporter_tasks_cost_nothing_and_change_nothing() -> None:
    assert current_reporter() is None
    with progress_task("anything", total=3) as advance:
        advance()
        advance(2, label="x")
    assert list(track(range(4), "loop")) == [0, 1, 2, 3]


def test_track_labels_each_item_and_ticks_after_its_work() -> None:
    rec = Recorder()
    seen = []
    with use_reporter(rec):
        for item in track(["a", "b"], "stages"):
            seen.append((item, rec.events[-1]))
    assert seen == [("a", ("advance", "stages", 0, "a")), ("b", ("advance", "stages", 0, "b"))]
    assert rec.events == [
        ("start", "stages", 2),
        ("advance", "stages", 0, "a"),
        ("advance", "stages", 1, None),
        ("advance", "stages", 0, "b"),
        ("advance", "stages", 1, None),
        ("finish", "stages"),
    ]
    assert current_reporter() is None


def test_a_task_is_finished_when_its_work_fails() -> None:
    rec = Recorder()
    with use_reporter(rec), pytest.raises(RuntimeError), progress_task("doomed", 5) as advance:
        advance()
        raise RuntimeError("boom")
    assert rec.events[-1] == ("finish", "doomed")
    assert current_reporter() is None


def test_a_reporter_belongs_to_its_context_only() -> None:
    rec = Recorder()
    in_thread: list[object] = []
    with use_reporter(rec):
        worker = threading.Thread(target=lambda: in_thread.append(current_reporter()))
        worker.start()
        worker.join()
        assert contextvars.copy_context().run(current_reporter) is rec
    assert in_thread == [None]


def test_rich_progress_installs_a_reporter_only_for_an_interactive_console() -> None:
    tty = Console(file=io.StringIO(), force_terminal=True, force_interactive=True)
    with rich_progress(tty):
        assert current_reporter() is not None
        for _ in track(range(3), "work"):
            pass
    assert current_reporter() is None
    with rich_progress(tty, enabled=False):  # --quiet, --json
        assert current_reporter() is None
    with rich_progress(Console(file=io.StringIO())):  # a file or a pipe
        assert current_reporter() is None


# --- training and scoring ---------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 5))
    y = (rng.random(2000) < 1 / (1 + np.exp(-(X[:, 0] - 2)))).astype(np.float64)
    return X, y


def test_both_fits_report_their_rounds(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    rec = Recorder()
    with use_reporter(rec):
        fit_logistic(X, y, seed=1)
        model, params = fit_lightgbm(X, y, seed=1, max_rounds=120)
    assert [(t["name"], t["total"], t["ticks"]) for t in rec.named("logistic regression")] == [
        ("logistic regression", 1, 1)
    ]
    (stop,) = rec.named("LightGBM rounds (early stopping)")
    assert stop["total"] == 120
    # Early stopping runs 50 rounds past the best one (or up to the cap), one tick each.
    assert stop["ticks"] == min(params["best_iteration"] + 50, 120)
    (final,) = rec.named("LightGBM rounds (final fit)")
    assert final["total"] == final["ticks"] == max(params["best_iteration"], 10)
    assert model.booster.current_iteration() == final["total"]
    assert all(t["finished"] for t in rec.tasks())


@pytest.fixture(scope="module")
def models(data: tuple[np.ndarray, np.ndarray]) -> list[Any]:
    X, y = data
    lgbm, _ = fit_lightgbm(X, y, seed=1, max_rounds=60)
    lr = fit_logistic(X, y, seed=1)
    lgbm.log_odds_shift = lr.log_odds_shift = -1.5
    return [lr, lgbm]


@pytest.mark.parametrize("chunk_rows", [1, 7, 199, 200, 4096])
@pytest.mark.parametrize("order", ["C", "F"])
def test_chunked_scoring_equals_unchunked(
    models: list[Any], data: tuple[np.ndarray, np.ndarray], chunk_rows: int, order: str
) -> None:
    X = np.asarray(data[0][:200], order=order)  # the scoring matrix is Fortran-ordered
    for model in models:
        whole = predict_proba(model, X)
        rec = Recorder()
        with use_reporter(rec):
            chunked = predict_in_chunks(model, X, chunk_rows=chunk_rows)
        assert np.array_equal(chunked, whole), model.kind
        (task,) = rec.tasks()
        assert (task["name"], task["total"], task["ticks"]) == ("scoring", 200, 200)
        ticks = [e for e in rec.events if e[0] == "advance"]
        assert len(ticks) == -(-200 // chunk_rows)  # one per chunk


def test_chunked_scoring_of_nothing_is_empty(models: list[Any]) -> None:
    assert predict_in_chunks(models[0], np.empty((0, 5))).shape == (0,)


# --- a whole run, through the command line ------------------------------------------------


def fake_terminal() -> Console:
    """A console that Rich takes for an interactive terminal, writing to memory."""
    return Console(file=io.StringIO(), force_terminal=True, force_interactive=True, width=100)


def invoke(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> tuple[Any, str]:
    """Run the CLI in-process with stderr on a fake terminal: (result, what stderr got)."""
    from typer.testing import CliRunner

    from offerrank.cli.main import app  # first: importing it registers the commands

    console = fake_terminal()
    monkeypatch.setattr("offerrank.cli.commands.err_console", console)
    result = CliRunner().invoke(app, args)
    return result, console.file.getvalue()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def json_run(
    tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, str, Recorder]:
    """`offerrank --json run` of a tiny world's Monday (a retraining day), with stderr on a
    terminal and a recording reporter installed around the command. Under --json the CLI
    must install no reporter of its own, so every task reaches the recorder."""
    folder = tmp_path_factory.mktemp("json_run")
    shutil.copy(tiny_world, folder / "metro.db")
    config = folder / "offerrank.toml"
    config.write_text(f'reports_dir = "{folder / "reports"}"\nbootstrap_samples = 20\n')
    args = ["--db", str(folder / "metro.db"), "--config", str(config), "--json", "run"]
    rec = Recorder()
    with pytest.MonkeyPatch.context() as monkeypatch, use_reporter(rec):
        result, stderr = invoke(monkeypatch, [*args, "--date", "2026-02-16"])
    return result, stderr, rec


def test_json_run_writes_only_json_and_draws_no_bars(json_run: tuple[Any, str, Recorder]) -> None:
    result, stderr, _ = json_run
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["runs"][0]["ok"] is True
    assert stderr == ""


def test_a_run_reports_features_training_recall_and_scoring(
    json_run: tuple[Any, str, Recorder],
) -> None:
    result, _, rec = json_run
    metrics = json.loads(result.stdout)["runs"][0]["metrics"]
    tasks = rec.tasks()
    assert all(t["finished"] for t in tasks)
    assert {t["name"] for t in tasks} == {
        "features",
        "logistic regression",
        "LightGBM rounds (early stopping)",
        "LightGBM rounds (final fit)",
        "candidate recall",
        "scoring",
    }
    features = rec.named("features")
    assert len(features) >= 3  # training, scoring, evaluation
    for t in features:
        assert t["total"] == t["ticks"] == len(STAGES)
        assert t["labels"] == list(STAGES)
    (scoring,) = rec.named("scoring")
    assert scoring["total"] == scoring["ticks"] == metrics["candidate_pool_size"] > 0
    (recall,) = rec.named("candidate recall")
    assert recall["total"] == recall["ticks"] == len(recall["labels"]) >= 1
    assert all(date.fromisoformat(label) < date(2026, 2, 16) for label in recall["labels"])


@pytest.fixture
def golden_db(tmp_path: Path) -> Path:
    db = tmp_path / "golden.db"
    with sqlite3.connect(db) as con:
        con.executescript((FIXTURES / "golden_store.sql").read_text())
    return db


@pytest.mark.parametrize(("flags", "bars"), [([], True), (["--quiet"], False), (["--json"], False)])
def test_features_command_draws_bars_unless_quiet_or_json(
    monkeypatch: pytest.MonkeyPatch, golden_db: Path, tmp_path: Path, flags: list[str], bars: bool
) -> None:
    out_csv = tmp_path / "f.csv"
    args = [
        "--db",
        str(golden_db),
        *flags,
        "features",
        "--date",
        "2024-04-01",
        "--out",
        str(out_csv),
    ]
    result, stderr = invoke(monkeypatch, args)
    assert result.exit_code == 0, result.output
    assert out_csv.exists()
    assert (HIDE_CURSOR in stderr) is bars
    if "--json" in flags:
        assert json.loads(result.stdout)["rows"] == 2


@pytest.mark.parametrize(("flags", "bars"), [([], True), (["--json"], False)])
def test_generate_draws_its_bar_on_stderr_and_keeps_stdout_for_the_summary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, flags: list[str], bars: bool
) -> None:
    db = tmp_path / "w.db"
    span = ["--start", "2026-01-01", "--end", "2026-01-05"]
    rec = Recorder()
    with use_reporter(rec) if not bars else contextlib.nullcontext():
        result, stderr = invoke(
            monkeypatch, ["--db", str(db), *flags, "generate", "--preset", "tiny", *span]
        )
    assert result.exit_code == 0, result.output
    assert (HIDE_CURSOR in stderr) is bars
    assert HIDE_CURSOR not in result.stdout
    if "--json" in flags:  # no bar of its own: the day ticks reach the installed reporter
        assert json.loads(result.stdout)["preset"] == "tiny"
        (days,) = [t for t in rec.tasks() if t["name"] == "generating days"]
        assert days["total"] == days["ticks"] == 5 and days["finished"]
        assert days["labels"][0] == "2026-01-01"
