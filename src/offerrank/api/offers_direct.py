"""The offers endpoint answered directly: a well-formed request skips FastAPI's routing.

`GET /v1/customers/{id}/offers` is what channels call, per customer, all day. FastAPI's
routing and parameter validation cost about as much CPU as the store query and the JSON
together, so a request whose path and query are plainly valid (an integer id, at most a
well-formed `date` and an in-range `limit`, nothing else) is answered here with the same
query and the same encoding. Anything else, including every request that should be
refused, goes on to FastAPI unchanged, which answers it (the errors) as documented. A
test checks that both paths answer the same bytes for the same requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from urllib.parse import parse_qsl

from offerrank.api.guard import ASGIApp, Receive, Scope, Send
from offerrank.api.queries import NotFound, ReadOnlyStore, StoreUnavailable, customer_offers

PATH = re.compile(rb"/v1/customers/(-?[0-9]{1,19})/offers")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
INT64 = 2**63


def _parse(scope: Scope, max_limit: int) -> tuple[int, str | None, int] | None:
    """(customer_id, date, limit) of a plainly valid offers request, else None."""
    match = PATH.fullmatch(scope.get("raw_path") or b"")
    if match is None:
        return None
    customer = int(match.group(1))
    if not -INT64 <= customer < INT64:
        return None
    day, limit = None, -1
    query = scope.get("query_string", b"")
    if query:
        try:
            pairs = parse_qsl(query.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return None
        names = [k for k, _ in pairs]
        if len(set(names)) != len(names) or not set(names) <= {"date", "limit"}:
            return None
        values = dict(pairs)
        if "date" in values:
            day = values["date"]
            if not DATE.fullmatch(day) or not _real_day(day):
                return None
        if "limit" in values:
            if not values["limit"].isdigit() or not 1 <= int(values["limit"]) <= max_limit:
                return None
            limit = int(values["limit"])
    return customer, day, limit


def _real_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


class OffersDirect:
    """Answers plainly valid offers requests itself; passes everything else to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        store: ReadOnlyStore,
        max_limit: int,
        respond: Callable[[int, object], tuple[int, bytes]],
    ) -> None:
        self.app, self.store, self.max_limit, self.respond = app, store, max_limit, respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plain = scope["type"] == "http" and scope["method"] == "GET"
        parsed = _parse(scope, self.max_limit) if plain else None
        if parsed is None:
            await self.app(scope, receive, send)
            return
        customer, day, limit = parsed
        try:
            with self.store.snapshot() as con:
                status, body = self.respond(200, customer_offers(con, customer, day, limit))
        except NotFound as exc:
            status, body = self.respond(404, str(exc))
        except StoreUnavailable as exc:
            status, body = self.respond(503, str(exc))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
