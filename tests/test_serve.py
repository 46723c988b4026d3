"""`offerrank serve`: the real server on a free local port, called over HTTP."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("fastapi")

from browser import browser, need_chromium  # noqa: E402
from explained_run import DAYS, copy_world  # noqa: E402
from offerrank.api import schema  # noqa: E402
from offerrank.api.app import ServeConfig, create_app  # noqa: E402
from offerrank.api.queries import RUN_STEPS  # noqa: E402
from offerrank.cli.main import app  # noqa: E402
from offerrank.config import Settings  # noqa: E402
from offerrank.delivery.reasons import BY_CODE  # noqa: E402
from offerrank.pipeline.daily import STEPS  # noqa: E402
from offerrank.store.db import connect  # noqa: E402
from offerrank.store.results.migrations import migrate  # noqa: E402
from serve_helpers import asgi_get, free_port, get, server  # noqa: E402

TOKEN = "s3cret-token-for-tests"
DAY, FIRST = DAYS[1].isoformat(), DAYS[0].isoformat()


@pytest.fixture(scope="module")
def store(two_day_run, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the session's two-day run, served read-only by the module's server."""
    return copy_world(two_day_run[0].db_path.parent, tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="module")
def api(store: Settings, tmp_path_factory: pytest.TempPathFactory):
    token = tmp_path_factory.mktemp("secret") / "token"
    token.write_text(TOKEN + "\n")
    with server(store.db_path, "--token-file", str(token)) as url:
        yield url


def call(url: str, path: str, **kw):
    return get(url, path, token=TOKEN, **kw)


def stored(db: Path, day: str, customer: int) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT rank, offer_id, score FROM recommendations WHERE run_date = ?"
            " AND customer_id = ? ORDER BY rank",
            (day, customer),
        ).fetchall()
    finally:
        con.close()


def a_customer(db: Path, day: str = DAY, rank: int = 3) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT customer_id FROM recommendations WHERE run_date = ? AND rank = ? LIMIT 1",
            (day, rank),
        ).fetchone()[0]
    finally:
        con.close()


def test_healthz_is_open_and_everything_else_needs_the_token(api: str) -> None:
    assert get(api, "/healthz") == (200, {"status": "ok"})
    for path in ("/readyz", "/v1/runs/latest", "/v1/customers/1/offers", "/docs", "/openapi.json"):
        for token in (None, "wrong", TOKEN + "x", ""):
            status, body = get(api, path, token=token)
            assert status == 401 and body == {
                "status": 401,
                "error": "missing or wrong bearer token",
            }
    assert call(api, "/readyz") == (
        200,
        {"status": "ready", "run_date": DAY, "run_id": call(api, "/v1/runs/latest")[1]["run_id"]},
    )


def test_a_customers_offers_with_details_and_reasons(api: str, store: Settings) -> None:
    customer = a_customer(store.db_path)
    status, body = call(api, f"/v1/customers/{customer}/offers")
    assert status == 200
    schema.CustomerOffers.model_validate(body)  # the documented shape
    assert body["run_date"] == DAY and body["customer_id"] == customer and body["run_id"]
    rows = stored(store.db_path, DAY, customer)
    assert [(o["rank"], o["offer_id"], o["score"]) for o in body["offers"]] == rows
    for offer in body["offers"]:
        assert offer["category"] and 0 < offer["discount_pct"] < 1 and offer["label"]
        assert offer["valid_from"] <= DAY <= offer["valid_to"]
        assert 1 <= len(offer["reasons"]) <= 3
        assert all(r["code"] in BY_CODE and r["text"] for r in offer["reasons"])
    status, two = call(api, f"/v1/customers/{customer}/offers?limit=2")
    assert status == 200 and two["offers"] == body["offers"][:2]
    first = a_customer(store.db_path, FIRST)
    status, old = call(api, f"/v1/customers/{first}/offers?date={FIRST}")
    assert status == 200 and old["run_date"] == FIRST
    assert [o["offer_id"] for o in old["offers"]] == [
        r[1] for r in stored(store.db_path, FIRST, first)
    ]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/v1/customers/999999999/offers", 404, "customer 999999999 is not in the store"),
        ("/v1/customers/1/offers?date=2025-01-01", 404, "no recommendations for 2025-01-01"),
        ("/v1/customers/1/offers?date=2026-02-30", 422, "date: '2026-02-30' is not a date"),
        ("/v1/customers/1/offers?date=yesterday", 422, "date: 'yesterday' is not a date"),
        ("/v1/customers/1/offers?limit=-1", 422, "limit: Input should be greater than or equal"),
        ("/v1/customers/1/offers?limit=0", 422, "limit: Input should be greater than or equal"),
        ("/v1/customers/1/offers?limit=101", 422, "limit: Input should be less than or equal"),
        ("/v1/customers/1/offers?limit=ten", 422, "limit: Input should be a valid integer"),
        ("/v1/customers/abc/offers", 422, "customer_id: Input should be a valid integer"),
        ("/v1/customers/99999999999999999999/offers", 422, "customer_id: Input should be less"),
        ("/v1/runs/2025-01-01", 404, "no run for 2025-01-01"),
        ("/v1/runs/2026-13-01", 422, "run_date: '2026-13-01' is not a date"),
        ("/v1/nothing", 404, "no such endpoint"),
        ("/v1/customers/1/offers?" + "x" * 3000, 414, "URL longer than 2048 bytes"),
    ],
)
def test_bad_requests_get_a_json_error_never_a_500(
    api: str, path: str, status: int, message: str
) -> None:
    got, body = call(api, path)
    assert got == status and body["status"] == status and body["error"].startswith(message), body


def test_the_api_is_read_only(api: str) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, body = call(api, "/v1/customers/1/offers", method=method, body=b"{}")
        assert status == 405 and "read-only" in body["error"]
    status, body = call(api, "/v1/customers/1/offers", body=b"x" * 10)  # a GET with a body
    assert status == 413 and body["error"] == "request bodies are not accepted"
    assert call(api, "/v1/runs/latest", method="HEAD") == (200, "")  # GET's answer, no body
    status, body = get(api, "/healthz", token="x" * 9000)
    assert status == 431 and body["error"] == "request headers longer than 8192 bytes"


def newest_run(db: Path, day: str) -> tuple[str, float]:
    """(run_id, recommendations_written) of the store's newest run of `day`."""
    con = sqlite3.connect(db)
    try:
        run_id = con.execute(
            "SELECT run_id FROM pipeline_runs WHERE run_date = ? ORDER BY rowid DESC LIMIT 1",
            (day,),
        ).fetchone()[0]
        written = con.execute(
            "SELECT value FROM run_metrics WHERE run_date = ? AND metric = ?",
            (day, "recommendations_written"),
        ).fetchone()[0]
    finally:
        con.close()
    return run_id, written


def test_runs_latest_and_by_date(api: str, store: Settings) -> None:
    status, latest = call(api, "/v1/runs/latest")
    assert status == 200
    schema.Run.model_validate(latest)
    run_id, written = newest_run(store.db_path, DAY)
    assert latest["run_date"] == DAY and latest["run_id"] == run_id
    assert latest["status"] == "success" and latest["complete"]
    assert [s["step"] for s in latest["steps"]] == list(RUN_STEPS)
    with sqlite3.connect(store.db_path) as con:
        logged = con.execute(
            "SELECT step, duration_s FROM pipeline_runs WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        ).fetchall()
    assert [(s["step"], s["seconds"]) for s in latest["steps"]] == logged
    assert latest["metrics"]["recommendations_written"] == written
    status, first = call(api, f"/v1/runs/{FIRST}")
    assert status == 200 and first["run_id"] == newest_run(store.db_path, FIRST)[0]
    assert "val_auc_lgbm" in first["metrics"]  # a retraining day


def test_openapi_document_lists_the_endpoints(api: str) -> None:
    status, doc = call(api, "/openapi.json")
    assert status == 200
    assert {
        "/v1/customers/{customer_id}/offers",
        "/v1/runs/latest",
        "/v1/runs/{run_date}",
        "/healthz",
        "/readyz",
    } <= set(doc["paths"])
    status, page = call(api, "/docs")
    assert status == 200 and "swagger-ui" in page and "cdn" not in page.lower()


def test_the_docs_render_offline_in_headless_chromium(store: Settings, tmp_path: Path) -> None:
    need_chromium()
    with server(store.db_path) as url:  # no token: a browser cannot send one to /docs
        dom = browser(
            f"{url}/docs", tmp_path / "profile", "--dump-dom", "--virtual-time-budget=10000"
        )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "/v1/customers/{customer_id}/offers" in dom.stdout  # drawn by Swagger UI's script


def test_offers_answered_directly_are_exactly_fastapi_s_answers(store: Settings) -> None:
    """Plainly valid offers requests skip FastAPI: the same bytes either way."""
    customer = a_customer(store.db_path)
    paths = [
        f"/v1/customers/{customer}/offers",
        f"/v1/customers/{customer}/offers?limit=3",
        f"/v1/customers/{customer}/offers?date={FIRST}&limit=1",
        f"/v1/customers/00{customer}/offers",
        "/v1/customers/-5/offers",
        "/v1/customers/999999999/offers",
        "/v1/customers/1/offers?date=2024-01-01",
        "/v1/customers/1/offers?date=2026-02-30",
        "/v1/customers/1/offers?limit=0",
        "/v1/customers/1/offers?limit=1&limit=2",
        "/v1/customers/1/offers?other=1",
        "/v1/customers/9223372036854775808/offers",
    ]
    config = ServeConfig(store.db_path)
    fast, plain = create_app(config), create_app(config, offers_direct=False)
    for path in paths:
        assert asyncio.run(asgi_get(fast, path)) == asyncio.run(asgi_get(plain, path)), path


def test_a_replaced_store_is_read_from_its_new_file(
    store: Settings, tiny_world: Path, tmp_path: Path
) -> None:
    db = tmp_path / "metro.db"
    shutil.copy(store.db_path, db)
    customer = a_customer(db)
    with server(db) as url:
        assert get(url, f"/v1/customers/{customer}/offers")[0] == 200
        fresh = tmp_path / "fresh.db"
        shutil.copy(tiny_world, fresh)
        fresh.replace(db)  # a new store, never run
        status, body = get(url, f"/v1/customers/{customer}/offers")
        assert status == 503 and "has no run outputs" in body["error"]
        con = connect(db)
        migrate(con)  # its output tables, still without a run
        con.close()
        status, body = get(url, f"/v1/customers/{customer}/offers")
        assert (status, body["error"]) == (404, "no run has completed yet: nothing to serve")
        assert get(url, "/readyz")[0] == 503
        db.unlink()
        status, body = get(url, f"/v1/customers/{customer}/offers")
        assert status == 503 and body["error"] == f"store not found: {db.resolve()}"
        assert get(url, "/readyz")[1]["status"] == "not ready"
        shutil.copy(store.db_path, db)
        assert get(url, f"/v1/customers/{customer}/offers")[0] == 200


def test_a_reader_during_a_run_never_sees_a_partial_list(store: Settings, tmp_path: Path) -> None:
    settings = copy_world(store.db_path.parent, tmp_path)
    day = "2026-02-18"
    con = sqlite3.connect(settings.db_path)
    customers = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT customer_id FROM recommendations WHERE run_date = ? LIMIT 40", (DAY,)
        )
    ]
    con.close()
    answers: list[tuple[int, str, int]] = []
    done = threading.Event()
    with server(settings.db_path) as url:

        def read() -> None:
            while not done.is_set():
                for c in customers:
                    for path in (
                        f"/v1/customers/{c}/offers",
                        f"/v1/customers/{c}/offers?date={day}",
                    ):
                        status, body = get(url, path)
                        assert status in (200, 404), body
                        if status == 200:
                            answers.append((c, body["run_date"], len(body["offers"])))

        readers = [threading.Thread(target=read) for _ in range(3)]
        for t in readers:
            t.start()
        config = tmp_path / "run.toml"
        config.write_text(f'reports_dir = "{tmp_path / "reports"}"\n')
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "offerrank",
                "--db",
                str(settings.db_path),
                "--config",
                str(config),
                "--quiet",
                "run",
                "--date",
                day,
            ],
            capture_output=True,
            text=True,
        )
        done.set()
        for t in readers:
            t.join()
        assert run.returncode == 0, run.stderr
        after = get(url, f"/v1/customers/{customers[0]}/offers")[1]
    assert after["run_date"] == day  # the new run is served once it completed
    final = {(c, d): len(stored(settings.db_path, d, c)) for c in customers for d in (DAY, day)}
    partial = [a for a in answers if final[(a[0], a[1])] != a[2]]
    assert answers and not partial


def test_the_served_steps_are_the_pipelines() -> None:
    """The API decides a run is complete by its last step: the same steps, in order."""
    assert tuple(STEPS) == RUN_STEPS


@pytest.mark.parametrize("case", ["missing store", "empty token", "port in use"])
def test_serve_refuses_to_start_with_one_line(case: str, store: Settings, tmp_path: Path) -> None:
    args = ["--db", str(store.db_path), "serve"]
    if case == "missing store":
        args[1] = str(tmp_path / "none.db")
        code, message = 2, "store not found"
    elif case == "empty token":
        (tmp_path / "token").write_text("\n")
        args += ["--token-file", str(tmp_path / "token")]
        code, message = 2, "must hold one token"
    else:
        sock = socket.socket()
        sock.bind(("127.0.0.1", port := free_port()))
        sock.listen()
        args += ["--port", str(port)]
        code, message = 1, f"cannot listen on 127.0.0.1:{port}"
    res = CliRunner().invoke(app, args)
    assert res.exit_code == code and message in res.output and "Traceback" not in res.output
