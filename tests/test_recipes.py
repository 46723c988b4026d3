"""The recipes of docs/architecture.md ("Where to add ..."), each done once here: a metric
(and the evaluation reuse noticing it), a step, and an HTTP endpoint. A feature's recipe
is done by tests/test_features.py (and on Spark by tests/test_spark.py), an engine's by
tests/test_engine_conformance.py."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from contract_tables import DAY
from offerrank.engines.base import StoreFacts, Window
from offerrank.pipeline import daily
from offerrank.pipeline.context import Run
from offerrank.pipeline.runs import Done, StepLog
from offerrank.pipeline.steps import evaluate
from offerrank.store.read import metrics, monitoring
from offerrank.store.read.runs import RUN_STEPS
from offerrank.store.results import outputs
from step_inputs import run_on, trained


# -- a metric -----------------------------------------------------------------------------
def positive_share(labels: np.ndarray) -> float | None:
    """The throwaway metric: the share of impressions that led to a redemption."""
    return float(labels.mean()) if labels.size else None


def test_a_metric_is_staged_by_its_step_and_a_new_one_bumps_the_evaluation_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert positive_share(np.array([1, 0, 0, 1])) == 0.5
    assert positive_share(np.array([])) is None
    run = run_on(tmp_path / "s.db")
    run.put_metrics({"positive_share": positive_share(np.array([1, 0, 0, 0]))})
    with run.outputs():  # the step's output transaction writes what it staged
        pass
    assert metrics.value_of(run.store, run.day, "positive_share") == 0.25

    # the evaluation's figures are reused under their fingerprint ...
    window, model = Window(date(2026, 3, 1), date(2026, 3, 2)), trained()
    key = evaluate.evaluation_fingerprint(run, model, window, 0.0)
    with run.outputs() as con:
        outputs.save_evaluation(con, key, run.day, {"auc": 0.7}, {})
    assert evaluate.evaluation_fingerprint(run, model, window, 0.0) == key
    assert monitoring.cached_evaluation(run.store, key) == (run.day, {"auc": 0.7}, {})
    # ... so a new figure bumps EVALUATION_VERSION: no earlier result is reused without it
    bumped = str(int(evaluate.EVALUATION_VERSION) + 1)
    monkeypatch.setattr(evaluate, "EVALUATION_VERSION", bumped)
    fresh = evaluate.evaluation_fingerprint(run, model, window, 0.0)
    assert fresh != key and monitoring.cached_evaluation(run.store, fresh) is None


# -- a step -------------------------------------------------------------------------------
def count_offers(run: Run, facts: StoreFacts) -> Done[int]:
    """The throwaway step: takes the load step's facts, stages a metric and writes a
    note with a writer of `store.results.outputs`, in its output transaction."""
    run.put_metrics({"offers_counted": facts.active_offers})
    with run.outputs() as con:
        outputs.replace_run_notes(con, run.day, "r1", [f"{facts.active_offers} offers"])
    return Done(facts.active_offers, f"{facts.active_offers} active offers")


def test_a_step_is_a_function_of_typed_inputs_that_the_step_log_records(tmp_path: Path) -> None:
    run = run_on(tmp_path / "s.db")
    log = StepLog(run.store, run.run_date)
    facts = StoreFacts(first_order=date(2026, 2, 10), active_offers=3, eligible_customers=3)
    assert log.run("count", lambda: count_offers(run, facts)) == 3
    assert run.store.execute(
        "SELECT step, status, detail FROM pipeline_runs WHERE run_id = ?", (log.run_id,)
    ).fetchall() == [("count", "success", "3 active offers")]
    assert metrics.value_of(run.store, DAY.isoformat(), "offers_counted") == 3.0
    assert run.store.execute("SELECT note FROM run_notes").fetchall() == [("3 offers",)]


def test_the_run_wires_the_declared_steps_in_their_order() -> None:
    """A step's one line in `pipeline.daily._steps` and its name in `RUN_STEPS` agree."""
    calls = [
        node
        for node in ast.walk(ast.parse(inspect.getsource(daily._steps).lstrip()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "step"
    ]
    wired = [c.args[0].value for c in sorted(calls, key=lambda c: (c.lineno, c.col_offset))]
    assert tuple(wired) == RUN_STEPS


# -- an HTTP endpoint ---------------------------------------------------------------------
def test_an_endpoint_is_a_route_that_reads_the_store_in_a_snapshot(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.responses import Response

    from offerrank.api.app import ServeConfig, create_app, json_response
    from offerrank.api.queries import NotFound, ReadOnlyStore
    from serve_helpers import asgi_get

    run = run_on(tmp_path / "s.db")
    run.put_metrics({"auc": 0.75})
    with run.outputs():
        pass
    app = create_app(ServeConfig(tmp_path / "s.db"), offers_direct=False)
    api, store = app.app, ReadOnlyStore(tmp_path / "s.db")  # the guarded FastAPI app

    @api.get("/v1/metrics/{run_date}/{metric}")
    async def metric_value(run_date: str, metric: str) -> Response:
        """One metric of a run date."""
        with store.snapshot() as con:
            value = metrics.value_of(con, run_date, metric)
        if value is None:
            raise NotFound(f"no {metric} for {run_date}")
        return json_response({"run_date": run_date, "metric": metric, "value": value})

    status, body = asyncio.run(asgi_get(app, f"/v1/metrics/{run.day}/auc"))
    assert (status, json.loads(body)) == (
        200,
        {"run_date": run.day, "metric": "auc", "value": 0.75},
    )
    status, body = asyncio.run(asgi_get(app, f"/v1/metrics/{run.day}/recall"))
    assert status == 404
    assert json.loads(body) == {"status": 404, "error": f"no recall for {run.day}"}


# -- the recipes name these tests ---------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent


def test_every_recipe_of_the_guide_names_tests_that_exist() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Where to add ...", 1)[1].split("\n## ", 1)[0]
    bullets = re.split(r"^- ", section, flags=re.M)[1:]
    names = [re.match(r"\*\*(.+?)\*\*", b).group(1) for b in bullets]  # type: ignore[union-attr]
    assert names == [
        "a feature",
        "a metric",
        "a step",
        "an output table",
        "an engine",
        "an HTTP endpoint",
    ]
    for bullet in bullets:
        assert "Test:" in bullet or "Tests:" in bullet, bullet[:40]
    for path in re.findall(r"`(tests/\w+\.py)", section):
        assert (ROOT / path).is_file(), path
    for path, name in re.findall(r"`(tests/\w+\.py)::(\w+)`", section):
        assert f"def {name}(" in (ROOT / path).read_text(), (path, name)
