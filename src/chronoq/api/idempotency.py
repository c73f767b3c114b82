"""`Idempotency-Key` on every POST that creates: a client that retries after a lost
response gets the first response again, not a second job or schedule.

The key is claimed with one SET NX GET (`chronoq.redis.idempotency`), scoped to the
token, with a fingerprint of the request (method, path, body). Same key, same
request: the stored response is replayed (`Idempotent-Replayed: true`). Same key,
another request: 422. Same key while the first is still running: 409. A request
that fails releases its key, so the corrected request may reuse it. Kept 24 h.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse

from chronoq.api.auth import Principal
from chronoq.api.problems import ProblemError
from chronoq.api.state import backend

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
HEADER = "Idempotency-Key"

Made = tuple[int, Any, dict[str, str]]  # status, JSON body, headers (Location)

IdempotencyKey = Header(
    None,
    alias=HEADER,
    description="Send the same key to retry this request safely: within 24 h the first "
    "response is replayed instead of creating again.",
)


def _fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + body)
    return digest.hexdigest()


async def idempotent(
    request: Request, who: Principal, key: str | None, make: Callable[[], Awaitable[Made]]
) -> JSONResponse:
    """Run `make` once per key (or every time without one) and answer with its result."""
    if key is None:
        return _response(*await make())
    if not _KEY.match(key):
        raise ProblemError(
            422, "must be 1-255 printable ASCII characters", field=f"header.{HEADER}"
        )
    store = backend(request).idempotency
    scoped = f"{who.token_id}:{key}"
    fingerprint = _fingerprint(request, await request.body())
    earlier = await store.claim(scoped, fingerprint)
    if earlier is not None:
        if earlier.fingerprint != fingerprint:
            raise ProblemError(422, "this Idempotency-Key was used for a different request; "
                               "use a new key", field=f"header.{HEADER}")  # fmt: skip
        if earlier.pending:
            raise ProblemError(409, "a request with this Idempotency-Key is still in progress",
                               headers={"Retry-After": "1"})  # fmt: skip
        status, body, headers = earlier.status, earlier.body["json"], earlier.body["headers"]
        return _response(status, body, {**headers, "Idempotent-Replayed": "true"})
    try:
        status, body, headers = await make()
    except BaseException:
        await store.release(scoped)
        raise
    await store.complete(scoped, fingerprint, status, {"json": body, "headers": headers})
    return _response(status, body, headers)


def _response(status: int, body: Any, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)
