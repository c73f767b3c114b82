"""The request body's gatekeeper, before any route runs: a body over the limit is
refused with 413 without reading it all (Content-Length first, then as it
streams), and a body that is not JSON with 415. Pure ASGI, so it holds for
every route; the 415 rule is the API's own, so a request an app mounted inside
the API serves (the dashboard in `create_site`, whose forms post
application/x-www-form-urlencoded) is only held to the size limit."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chronoq.api.problems import PROBLEM_TYPE, problem_body

_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _mounted(scope: Scope, routes: Sequence[BaseRoute]) -> bool:
    """Whether the route that will serve this request is a mounted app: the first
    full match, as Starlette's router picks it (else the first partial one)."""
    partial: BaseRoute | None = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return isinstance(route, Mount)
        if match is Match.PARTIAL and partial is None:
            partial = route
    return isinstance(partial, Mount)


class BodyGate:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        routes: Callable[[], Sequence[BaseRoute]] = lambda: (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.routes = routes  # the API's own, read per request: mounts come later

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await _problem(send, 400, f"Content-Length {length[:20]!r} is not a number")
                return
            if int(length) > self.max_bytes:
                await self._too_large(send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        json_only = not _mounted(scope, self.routes())
        if body and json_only and not _is_json(headers.get("content-type", "")):
            shown = headers.get("content-type", "none")[:60]
            await _problem(send, 415, f"the body must be JSON (Content-Type: application/json), "
                           f"not {shown}")  # fmt: skip
            return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, send: Send) -> None:
        await _problem(send, 413, f"the body is over the limit of {self.max_bytes:,} bytes "
                       "(CHRONOQ_API_MAX_BODY_BYTES)", max_body_bytes=self.max_bytes)  # fmt: skip


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _problem(send: Send, status: int, detail: str, **extra: Any) -> None:
    body = json.dumps(problem_body(status, detail, **extra)).encode()
    headers = [
        (b"content-type", PROBLEM_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
