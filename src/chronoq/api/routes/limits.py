"""Rate limits and quotas: CRUD (ETag/If-Match), live state and hot keys."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import Field

from chronoq.api.audit import audit, audited
from chronoq.api.auth import Admin, Principal, Reader
from chronoq.api.etags import check_if_match, tagged
from chronoq.api.models import Body, Done
from chronoq.api.problems import ProblemError
from chronoq.api.state import api_state
from chronoq.core.errors import ConfigurationError, LimitNotFound
from chronoq.manage import Limits, Quotas

router = APIRouter(prefix="/v1", tags=["limits"])
Name = Annotated[str, Path(min_length=1, max_length=200)]
Top = Annotated[int, Query(ge=1, le=100)]


def limits(request: Request) -> Limits:
    state = api_state(request)
    return Limits(state.client(), state.app.timezone)


def quotas(request: Request) -> Quotas:
    state = api_state(request)
    return Quotas(state.client(), state.app.timezone)


LimitsDep = Annotated[Limits, Depends(limits)]
QuotasDep = Annotated[Quotas, Depends(quotas)]


async def _current(manager: Limits | Quotas, name: str) -> dict[str, Any] | None:
    try:
        return (await manager.get(name)).to_dict()
    except LimitNotFound:
        return None


# -- rate limits ----------------------------------------------------------------


class LimitBody(Body):
    rate: str = Field(min_length=1, max_length=50, examples=["600/min"])
    burst: int = Field(0, ge=0, le=10**6)
    min_gap: float = Field(0.0, ge=0, le=86400)
    windows: list[str] | dict[str, str] = Field(
        default_factory=list,
        description='["mon-fri 09:00-18:00"] or {"mon-fri 09:00-17:00": "30/h"}',
    )
    tz: str | None = Field(None, min_length=1, max_length=64)


@router.get("/limits", summary="Every rate limit")
async def list_limits(m: LimitsDep, _: Principal = Reader) -> list[Any]:
    return [limit.to_dict() for limit in await m.list()]


@router.get("/limits/{name}", summary="One rate limit")
async def get_limit(name: Name, response: Response, m: LimitsDep, _: Principal = Reader) -> Any:
    return tagged(response, (await m.get(name)).to_dict())


@router.put(
    "/limits/{name}", summary="Create or replace a rate limit", openapi_extra=audited("limits.put")
)
async def put_limit(
    name: Name, body: LimitBody, request: Request, response: Response, m: LimitsDep,
    who: Principal = Admin,
) -> Any:  # fmt: skip
    """Applies at once on every worker; jobs it deferred are decided again."""
    check_if_match(request, await _current(m, name))
    windows = body.windows if isinstance(body.windows, dict) else list(body.windows)
    try:
        made = await m.set(name, body.rate, burst=body.burst, min_gap=body.min_gap,
                           windows=windows, tz=body.tz)  # fmt: skip
    except ConfigurationError as exc:
        raise ProblemError(422, str(exc)) from None
    await audit(m.client.backend, who, "limits.put", name, rate=body.rate)
    return tagged(response, made.to_dict())


@router.delete(
    "/limits/{name}",
    summary="Delete a rate limit",
    response_model=Done,
    openapi_extra=audited("limits.delete"),
)
async def delete_limit(name: Name, request: Request, m: LimitsDep, who: Principal = Admin) -> Done:
    """Its jobs run unlimited from now on."""
    current = await _current(m, name)
    if current is None:
        raise ProblemError(404, f"no rate limit named {name!r}")
    check_if_match(request, current)
    await m.remove(name)
    await audit(m.client.backend, who, "limits.delete", name)
    return Done(id=name, status="removed")


@router.get("/limits/{name}/state", summary="A rate limit now")
async def limit_state(name: Name, m: LimitsDep, _: Principal = Reader, top: Top = 5) -> Any:
    """Cap, window, use and utilization of its recent keys, tokens left, hot keys."""
    return (await m.state(name, top=top)).to_dict()


@router.get("/limits/{name}/hot-keys", summary="The keys using most of a rate limit")
async def limit_hot_keys(name: Name, m: LimitsDep, _: Principal = Reader, top: Top = 10) -> Any:
    return [usage.to_dict() for usage in await m.hot_keys(name, top)]


# -- quotas ---------------------------------------------------------------------


class QuotaBody(Body):
    limit: int = Field(ge=1, le=10**9, description="Runs per account per period.")
    per: Literal["day", "hour"] = "day"
    tz: str | None = Field(None, min_length=1, max_length=64)


@router.get("/quotas", summary="Every quota")
async def list_quotas(m: QuotasDep, _: Principal = Reader) -> list[Any]:
    return [limit.to_dict() for limit in await m.list()]


@router.get("/quotas/{name}", summary="One quota")
async def get_quota(name: Name, response: Response, m: QuotasDep, _: Principal = Reader) -> Any:
    return tagged(response, (await m.get(name)).to_dict())


@router.put(
    "/quotas/{name}", summary="Create or replace a quota", openapi_extra=audited("quotas.put")
)
async def put_quota(
    name: Name, body: QuotaBody, request: Request, response: Response, m: QuotasDep,
    who: Principal = Admin,
) -> Any:  # fmt: skip
    check_if_match(request, await _current(m, name))
    try:
        made = await m.set(name, body.limit, per=body.per, tz=body.tz)
    except ConfigurationError as exc:
        raise ProblemError(422, str(exc)) from None
    await audit(m.client.backend, who, "quotas.put", name, limit=body.limit, per=body.per)
    return tagged(response, made.to_dict())


@router.delete(
    "/quotas/{name}",
    summary="Delete a quota",
    response_model=Done,
    openapi_extra=audited("quotas.delete"),
)
async def delete_quota(name: Name, request: Request, m: QuotasDep, who: Principal = Admin) -> Done:
    current = await _current(m, name)
    if current is None:
        raise ProblemError(404, f"no quota named {name!r}")
    check_if_match(request, current)
    await m.remove(name)
    await audit(m.client.backend, who, "quotas.delete", name)
    return Done(id=name, status="removed")


@router.get("/quotas/{name}/state", summary="A quota now")
async def quota_state(name: Name, m: QuotasDep, _: Principal = Reader, top: Top = 5) -> Any:
    return (await m.state(name, top=top)).to_dict()


@router.get("/quotas/{name}/usage", summary="Use per account in the current period")
async def quota_usage(
    name: Name, m: QuotasDep, _: Principal = Reader,
    account: Annotated[list[str] | None, Query(max_length=100)] = None,
) -> list[Any]:  # fmt: skip
    """The accounts given (repeat `account=`), or the recently used ones."""
    return [usage.to_dict() for usage in await m.usage(name, account)]
