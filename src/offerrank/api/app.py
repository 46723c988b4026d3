"""The read-only HTTP API on the store, for channels that ask "which offers, now?".

FastAPI for routing, validation and the OpenAPI document (served from local files at
/docs: nothing is fetched from the network), uvicorn to run it. Every response, errors
included, is JSON; bad input is a 4xx naming the parameter, never a 500. Handlers are
`async` and query SQLite directly: a request's reads take well under a millisecond, less
than a hop to a thread pool would cost.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from offerrank import __version__
from offerrank.api import schema
from offerrank.api.guard import ASGIApp, Guard
from offerrank.api.offers_direct import OffersDirect
from offerrank.api.queries import (
    NotFound,
    ReadOnlyStore,
    StoreUnavailable,
    customer_offers,
    readiness,
    run_summary,
)
from offerrank.errors import OfferrankError

ENV = "OFFERRANK_SERVE"  # the configuration, as JSON, for uvicorn's worker processes
MAX_LIMIT = 100
INT64 = 2**63

DESCRIPTION = """Read-only access to the offers the daily run chose.

Each request reads one consistent snapshot of the store, so a list is never seen half
written while a run replaces it. With a token file, every request but `/healthz` needs
`Authorization: Bearer <token>`. Errors are JSON: `{"status": 404, "error": "..."}`.
"""


class ServeUsageError(OfferrankError):
    """A bad serve option or token file: exit code 2."""

    exit_code = 2


@dataclass(frozen=True)
class ServeConfig:
    db_path: Path
    token_file: Path | None = None

    def to_env(self) -> str:
        return json.dumps({"db_path": str(self.db_path), "token_file": _str(self.token_file)})

    @classmethod
    def from_env(cls) -> ServeConfig:
        data = json.loads(os.environ[ENV])
        token = data.get("token_file")
        return cls(Path(data["db_path"]), Path(token) if token else None)


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def read_token(path: Path) -> str:
    """The token in a file (surrounding whitespace ignored); a usage error if there is none."""
    try:
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ServeUsageError(f"--token-file {path}: cannot read it ({exc})") from None
    if not token or any(c.isspace() for c in token):
        raise ServeUsageError(f"--token-file {path}: must hold one token, without spaces")
    return token


def encoded(status: int, payload: Any) -> tuple[int, bytes]:
    """A response's body: the payload, or for an error status its message as an error."""
    if status >= 400:
        payload = {"status": status, "error": payload}
    return status, orjson.dumps(payload)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def error(status: int, message: str) -> Response:
    _, body = encoded(status, message)
    return Response(body, status_code=status, media_type="application/json")


def _run_date(value: str | None, where: tuple[str, str] = ("query", "date")) -> str | None:
    """A date parameter, checked: YYYY-MM-DD and a real day."""
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise RequestValidationError(
            [{"loc": where, "msg": f"{value[:40]!r} is not a date in YYYY-MM-DD form"}]
        ) from None


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": schema.Error, "description": "not in the store"},
    422: {"model": schema.Error, "description": "a bad parameter"},
    503: {"model": schema.Error, "description": "the store cannot be read now"},
}


def _install_handlers(api: FastAPI) -> None:
    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0]
        where = str(first.get("loc", ("", "?"))[-1])
        return error(422, f"{where}: {first.get('msg', 'invalid value')}")

    @api.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
        return error(exc.status_code, message)

    @api.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> Response:
        return error(404, str(exc))

    @api.exception_handler(StoreUnavailable)
    async def unavailable(_: Request, exc: StoreUnavailable) -> Response:
        return error(503, str(exc))


def create_app(config: ServeConfig, offers_direct: bool = True) -> ASGIApp:
    """The API on the store at `config.db_path`, behind its request guard and (unless
    `offers_direct` is off, for the test that compares the two) the offers endpoint
    answered directly (`api.offers_direct`)."""
    token = read_token(config.token_file) if config.token_file else None
    store = ReadOnlyStore(config.db_path)
    api = FastAPIOffline(title="offerrank", version=__version__, description=DESCRIPTION)
    _install_handlers(api)

    @api.get("/healthz", response_model=None, responses={200: {"model": schema.Health}})
    async def healthz() -> Response:
        """The process is up (no store access, no token needed)."""
        return json_response({"status": "ok"})

    @api.get(
        "/readyz",
        response_model=None,
        responses={200: {"model": schema.Ready}, 503: {"model": schema.Ready}},
    )
    async def readyz() -> Response:
        """The store is readable and its newest finished run succeeded."""
        try:
            with store.snapshot() as con:
                ok, body = readiness(con)
        except StoreUnavailable as exc:
            ok, body = False, {"status": "not ready", "reason": str(exc)}
        return json_response(body, 200 if ok else 503)

    @api.get(
        "/v1/customers/{customer_id}/offers",
        response_model=None,
        responses={200: {"model": schema.CustomerOffers}, **ERRORS},
    )
    async def offers(
        customer_id: Annotated[int, PathParam(ge=-INT64, lt=INT64)],
        date: Annotated[  # noqa: A002 - the query parameter's public name
            str | None,
            Query(description="run date YYYY-MM-DD; default: the newest complete run"),
        ] = None,
        limit: Annotated[
            int | None, Query(ge=1, le=MAX_LIMIT, description="at most this many offers")
        ] = None,
    ) -> Response:
        """A customer's ranked offers with their details and reasons."""
        day = _run_date(date)
        with store.snapshot() as con:
            body = customer_offers(con, customer_id, day, limit or -1)
        return json_response(body)

    @api.get(
        "/v1/runs/latest", response_model=None, responses={200: {"model": schema.Run}, **ERRORS}
    )
    async def latest_run() -> Response:
        """The newest run, whatever its status: steps, timings and headline metrics."""
        with store.snapshot() as con:
            return json_response(run_summary(con, None))

    @api.get(
        "/v1/runs/{run_date}", response_model=None, responses={200: {"model": schema.Run}, **ERRORS}
    )
    async def run(run_date: str) -> Response:
        """The newest run of a date: steps, timings and headline metrics."""
        day = _run_date(run_date, ("path", "run_date"))
        with store.snapshot() as con:
            return json_response(run_summary(con, day))

    inner: ASGIApp = OffersDirect(api, store, MAX_LIMIT, encoded) if offers_direct else api
    return Guard(inner, token)


def app_from_env() -> ASGIApp:
    """uvicorn's factory in each worker process (`offerrank serve` sets the environment)."""
    return create_app(ServeConfig.from_env())
