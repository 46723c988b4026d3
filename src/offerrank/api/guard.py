"""What every request passes before the API sees it: method, size and bearer token.

A plain ASGI wrapper (no per-request objects) so that it costs next to nothing: only GET
and HEAD (answered as GET without the body), no request body, a bounded URL and headers,
no websocket, and with a token every path but /healthz needs `Authorization: Bearer
<token>`, compared in constant time (as SHA-256 digests, so not even the token's length
shows in the timing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_URL_BYTES = 2048
MAX_HEADER_BYTES = 8192
OPEN_PATHS = ("/healthz",)


Headers = tuple[tuple[bytes, bytes], ...]


async def send_error(send: Send, status: int, message: str, headers: Headers = ()) -> None:
    body = orjson.dumps({"status": status, "error": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


class Guard:
    """Wraps the API: refuses what it must not see before any routing or store access."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = None if token is None else _digest(f"Bearer {token}".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the API has none: refused before any token check
            await receive()
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await send_error(
                send,
                405,
                f"method {scope['method']} not allowed: the API is read-only",
                ((b"allow", b"GET, HEAD"),),
            )
            return
        if len(scope.get("raw_path", b"")) + len(scope.get("query_string", b"")) > MAX_URL_BYTES:
            await send_error(send, 414, f"URL longer than {MAX_URL_BYTES} bytes")
            return
        if sum(len(n) + len(v) for n, v in scope["headers"]) > MAX_HEADER_BYTES:
            await send_error(send, 431, f"request headers longer than {MAX_HEADER_BYTES} bytes")
            return
        authorization = b""
        for name, value in scope["headers"]:
            if name == b"content-length" and value.strip() not in (b"", b"0"):
                await send_error(send, 413, "request bodies are not accepted")
                return
            if name == b"transfer-encoding":
                await send_error(send, 413, "request bodies are not accepted")
                return
            if name == b"authorization":
                authorization = value
        if (
            self.expected is not None
            and scope["path"] not in OPEN_PATHS
            and not hmac.compare_digest(_digest(authorization), self.expected)
        ):
            await send_error(
                send,
                401,
                "missing or wrong bearer token",
                ((b"www-authenticate", b'Bearer realm="offerrank"'),),
            )
            return
        if scope["method"] == "HEAD":  # answered as GET, without the body
            await self.app({**scope, "method": "GET"}, receive, _without_body(send))
            return
        await self.app(scope, receive, send)


def _without_body(send: Send) -> Send:
    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head
