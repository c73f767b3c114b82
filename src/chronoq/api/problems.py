"""Errors as RFC 9457 problem details (`application/problem+json`).

Every error the API returns is one: a bad field names the field and the reason
(`errors`: [{field, reason}]), a missing thing says which, a conflict says why.
chronoq's own exceptions map to their status here, in one table, so routes raise
what the library raises and never build error responses themselves. Nothing that
bad input can cause ends as a 500: the library refuses it with a ChronoqError
(a 4xx), and a Redis fault is a 503 with Retry-After.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from chronoq.core import errors
from chronoq.core.serialization import NestingTooDeep
from chronoq.redis.errors import REDIS_FAULTS

PROBLEM_TYPE = "application/problem+json"
log = logging.getLogger("chronoq.api")

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class FieldError(BaseModel):
    field: str
    reason: str


class Problem(BaseModel):
    """The body of every error (RFC 9457)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise from a route to answer with a problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra
        if field is not None:
            self.extra["errors"] = [{"field": field, "reason": detail}]


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, detail, **extra)
    if instance is not None:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_TYPE)


def problem_body(status: int, detail: str, **extra: Any) -> dict[str, Any]:
    title = TITLES.get(status, "Error")
    slug = title.lower().replace(" ", "-")
    return {"type": f"urn:chronoq:problem:{slug}", "title": title, "status": status,
            "detail": detail, **extra}  # fmt: skip


# The status of each chronoq error a request can cause; the first match wins.
STATUS: Sequence[tuple[type[BaseException], int]] = (
    (errors.JobNotFound, 404),
    (errors.ScheduleNotFound, 404),
    (errors.LimitNotFound, 404),
    (errors.OperationNotFound, 404),
    (errors.ScheduleExists, 409),
    (errors.InvalidJobState, 409),
    (errors.PayloadTooLarge, 413),
    (errors.UnknownTask, 422),
    (NestingTooDeep, 422),
    (errors.SerializationError, 422),
    (errors.ConfigurationError, 422),
    (errors.LockTimeout, 409),
    (errors.NotReplicated, 503),
)


def status_of(exc: BaseException) -> int:
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 400)


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "request"


_NAMED = re.compile(r"^(?:Value error, )?([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+|[a-z_]+): ")


def _located(error: Any) -> dict[str, str]:
    """One validation error as {field, reason}. A model-wide check (a spec whose
    steps disagree with its pacing) is raised at the model's own place; when its
    message starts with the field it is about (`pacing.windows.0: ...`), that is
    the field named."""
    loc, reason = tuple(error.get("loc", ())), str(error.get("msg", "invalid"))
    found = _NAMED.match(reason) if len(loc) == 1 else None
    if found:
        loc = (*loc, found.group(1))
    return {"field": _field(loc), "reason": reason}


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    found = [_located(e) for e in exc.errors()]
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return problem(400, "the body is not valid JSON", instance=request.url.path, errors=found)
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in found) or "invalid request"
    return problem(422, detail, instance=request.url.path, errors=found)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such resource: {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    headers = dict(exc.headers) if exc.headers else None
    return problem(exc.status_code, detail, instance=request.url.path, headers=headers)


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem(exc.status, exc.detail, instance=request.url.path, headers=exc.headers,
                   **exc.extra)  # fmt: skip


async def _rate_limited(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.RateLimited)
    wait = max(1, math.ceil(exc.retry_after))  # never before it: an integer of seconds
    return problem(429, str(exc), instance=request.url.path, headers={"Retry-After": str(wait)},
                   retry_after=exc.retry_after)  # fmt: skip


async def _chronoq(request: Request, exc: Exception) -> JSONResponse:
    headers = {"Retry-After": "1"} if status_of(exc) == 503 else None
    return problem(status_of(exc), str(exc), instance=request.url.path, headers=headers)


async def _redis(request: Request, exc: Exception) -> JSONResponse:
    log.warning("chronoq api: Redis fault on %s: %s", request.url.path, exc)
    return problem(503, f"Redis is unavailable: {type(exc).__name__}", headers={"Retry-After": "1"},
                   instance=request.url.path)  # fmt: skip


async def _record(request: Request, exc: Exception) -> JSONResponse:
    """A stored record another client wrote badly (not this request's input)."""
    log.warning("chronoq api: unreadable record on %s: %r", request.url.path, exc)
    return problem(409, f"a stored record cannot be read: {type(exc).__name__}: {exc}",
                   instance=request.url.path)  # fmt: skip


def install(api: FastAPI) -> None:
    api.add_exception_handler(RequestValidationError, _validation)
    api.add_exception_handler(StarletteHTTPException, _http)
    api.add_exception_handler(ProblemError, _problem)
    api.add_exception_handler(errors.RateLimited, _rate_limited)
    api.add_exception_handler(errors.ChronoqError, _chronoq)
    for fault in REDIS_FAULTS:
        if issubclass(fault, Exception):
            api.add_exception_handler(fault, _redis)
    api.add_exception_handler(RecursionError, _record)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": TITLES[status],
             "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status in (400, 401, 403, 404, 409, 412, 413, 415, 422, 429, 503)
}  # fmt: skip
