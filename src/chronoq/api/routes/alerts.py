"""Alerts: rules (with their states) and deliveries, silences, channels."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from chronoq.api.audit import audit, audited
from chronoq.api.auth import Admin, Operator, Principal, Reader
from chronoq.api.etags import check_if_match, tagged
from chronoq.api.idempotency import IdempotencyKey, Made, idempotent
from chronoq.api.models import Body, Done
from chronoq.api.problems import ProblemError
from chronoq.api.state import api_state
from chronoq.core.alerts import AlertRule, EmailChannel, RuleKind, WebhookChannel, channel_public
from chronoq.core.errors import ConfigurationError
from chronoq.manage import Alerts
from chronoq.observe.channels import deliver_test

router = APIRouter(prefix="/v1", tags=["alerts"])
Name = Annotated[str, Path(min_length=1, max_length=200)]


async def alerts(request: Request) -> Alerts:
    """The alert manager over the API's client (the app's declared rules and channels)."""
    state = api_state(request)
    app = state.app
    return Alerts(state.client(), app.timezone, app.declared_alert_rules,
                  app.declared_alert_channels)  # fmt: skip


AlertsDep = Annotated[Alerts, Depends(alerts)]


@router.get("/alerts", summary="Every rule with its states")
async def overview(a: AlertsDep, _: Principal = Reader) -> dict[str, Any]:
    """Rules in force (defaults, declared, runtime), pending/firing/resolved states
    per rule and subject, and silences."""
    return {
        "rules": [r.to_dict() for r in await a.rules()],
        "states": [s.to_dict() for s in await a.states()],
        "silences": [s.to_dict() for s in await a.silences()],
    }


async def _rule(a: Alerts, name: str) -> dict[str, Any] | None:
    return next((r.to_dict() for r in await a.rules() if r.name == name), None)


@router.get("/alerts/rules/{name}", summary="One rule")
async def get_rule(name: Name, response: Response, a: AlertsDep, _: Principal = Reader) -> Any:
    found = await _rule(a, name)
    if found is None:
        raise ProblemError(404, f"no alert rule named {name!r}")
    return tagged(response, found)


class RuleBody(Body):
    kind: RuleKind
    threshold: float | None = None
    level: Literal["warning", "critical"] = "warning"
    pending: float = Field(60, ge=0, le=86400 * 30)
    cooldown: float = Field(300, ge=0, le=86400 * 30)
    window: float = Field(900, gt=0, le=86400 * 90)
    min_jobs: int = Field(10, ge=0, le=10**9)
    min_run: float = Field(60, ge=0, le=86400 * 30)
    queues: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list)
    channels: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list
    )
    enabled: bool = True


@router.put(
    "/alerts/rules/{name}",
    summary="Create or replace a rule",
    openapi_extra=audited("alerts.rule.put"),
)
async def put_rule(
    name: Name, body: RuleBody, request: Request, response: Response, a: AlertsDep,
    who: Principal = Admin,
) -> Any:  # fmt: skip
    """Stored in Redis: replaces the declared rule or default of that name on every
    evaluator from its next round. If-Match: only if unchanged since read."""
    check_if_match(request, await _rule(a, name))
    try:
        rule = AlertRule(name, **body.model_dump())
    except ConfigurationError as exc:
        raise ProblemError(422, str(exc)) from None
    await a.add_rule(rule)
    await audit(a.client.backend, who, "alerts.rule.put", name)
    return tagged(response, rule.to_dict())


@router.delete(
    "/alerts/rules/{name}",
    summary="Remove a runtime rule",
    response_model=Done,
    openapi_extra=audited("alerts.rule.delete"),
)
async def delete_rule(name: Name, request: Request, a: AlertsDep, who: Principal = Admin) -> Done:
    """The declared rule or default of that name applies again."""
    check_if_match(request, await _rule(a, name))
    if not await a.remove_rule(name):
        raise ProblemError(404, f"no runtime alert rule named {name!r}")
    await audit(a.client.backend, who, "alerts.rule.delete", name)
    return Done(id=name, status="removed")


@router.get("/alerts/deliveries", summary="Recent notification attempts")
async def deliveries(
    a: AlertsDep, _: Principal = Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[Any]:
    return await a.deliveries(limit)


# -- silences -----------------------------------------------------------------


@router.get("/silences", summary="Active silences")
async def silences(a: AlertsDep, _: Principal = Reader) -> list[Any]:
    return [s.to_dict() for s in await a.silences()]


class SilenceBody(Body):
    rule: str = Field(min_length=1, max_length=200)
    duration: float = Field(gt=0, le=366 * 86400, description="Seconds.")
    reason: str = Field(min_length=1, max_length=2000)
    subject: str = Field("", max_length=500, description="One subject; '' for all.")


@router.post(
    "/silences", status_code=201, summary="Silence a rule", openapi_extra=audited("alerts.silence")
)
async def silence(
    body: SilenceBody, request: Request, a: AlertsDep, who: Principal = Operator,
    idempotency_key: str | None = IdempotencyKey,
) -> Response:  # fmt: skip
    """No notification for the rule (or one subject of it) for `duration` seconds."""

    async def make() -> Made:
        try:
            made = await a.silence(body.rule, body.duration, body.reason, subject=body.subject)
        except ConfigurationError as exc:
            raise ProblemError(422, str(exc), field="body.rule") from None
        await audit(a.client.backend, who, "alerts.silence", body.rule, subject=body.subject,
                    reason=body.reason)  # fmt: skip
        return 201, made.to_dict(), {}

    return await idempotent(request, who, idempotency_key, make)


@router.delete(
    "/silences/{rule}",
    summary="End a silence",
    response_model=Done,
    openapi_extra=audited("alerts.unsilence"),
)
async def unsilence(rule: Name, a: AlertsDep, who: Principal = Operator, subject: str = "") -> Done:
    if not await a.unsilence(rule, subject=subject):
        raise ProblemError(404, f"{rule} {subject or '(all subjects)'} is not silenced")
    await audit(a.client.backend, who, "alerts.unsilence", rule, subject=subject)
    return Done(id=rule, status="unsilenced")


# -- channels -----------------------------------------------------------------


class WebhookBody(Body):
    kind: Literal["webhook"]
    url: str = Field(min_length=1, max_length=2000)
    secret: str = Field(min_length=1, max_length=500)
    timeout: float = Field(5.0, gt=0, le=300)
    retries: int = Field(3, ge=0, le=100)
    backoff: float = Field(1.0, ge=0, le=3600)


class EmailBody(Body):
    kind: Literal["email"]
    host: str = Field(min_length=1, max_length=500)
    sender: str = Field(min_length=1, max_length=500)
    to: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(min_length=1)
    port: int = Field(25, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_tls: bool = False
    timeout: float = Field(10.0, gt=0, le=300)
    retries: int = Field(2, ge=0, le=100)
    backoff: float = Field(1.0, ge=0, le=3600)


ChannelBody = Annotated[WebhookBody | EmailBody, Field(discriminator="kind")]


async def _channel(a: Alerts, name: str) -> dict[str, Any] | None:
    found = (await a.channels()).get(name)
    return channel_public(found) if found is not None else None


@router.get("/channels", summary="Alert channels (secrets redacted)")
async def channels(a: AlertsDep, _: Principal = Reader) -> list[Any]:
    return [channel_public(c) for _, c in sorted((await a.channels()).items())]


@router.get("/channels/{name}", summary="One channel (secrets redacted)")
async def get_channel(name: Name, response: Response, a: AlertsDep, _: Principal = Reader) -> Any:
    found = await _channel(a, name)
    if found is None:
        raise ProblemError(404, f"no alert channel named {name!r}")
    return tagged(response, found)


@router.put(
    "/channels/{name}",
    summary="Create or replace a channel",
    openapi_extra=audited("alerts.channel.put"),
)
async def put_channel(
    name: Name, body: ChannelBody, request: Request, response: Response, a: AlertsDep,
    who: Principal = Admin,
) -> Any:  # fmt: skip
    check_if_match(request, await _channel(a, name))
    fields = body.model_dump()
    try:
        if isinstance(body, EmailBody):
            made: WebhookChannel | EmailChannel = EmailChannel(
                name, **{**fields, "to": tuple(body.to)}
            )
        else:
            made = WebhookChannel(name, **fields)
    except ConfigurationError as exc:
        raise ProblemError(422, str(exc)) from None
    await a.add_channel(made)
    await audit(a.client.backend, who, "alerts.channel.put", name, kind=made.kind)
    return tagged(response, channel_public(made))


class DeliveryAttempt(BaseModel):
    """One attempt, as the delivery log holds it (`GET /v1/alerts/deliveries`)."""

    model_config = ConfigDict(extra="allow")

    at: float = Field(description="Epoch seconds.")
    channel: str
    kind: str
    attempt: int
    ok: bool
    detail: str = Field(description="The receiver's answer: HTTP 200, an SMTP error, ...")


class ChannelTestOut(BaseModel):
    channel: str
    kind: str
    delivered: bool = Field(description="The receiver accepted the test notification.")
    attempts: list[DeliveryAttempt]


@router.post("/channels/{name}/test", summary="Send a test notification",
             response_model=ChannelTestOut,
             openapi_extra=audited("alerts.channel.test"))  # fmt: skip
async def test_channel(
    name: Name, request: Request, a: AlertsDep, who: Principal = Operator
) -> ChannelTestOut:
    """One test notification through the channel, in one attempt (no backoff), and
    what the receiver answered; a refusal is `delivered: false` (200: the test ran).
    Logged with the deliveries."""
    channel = (await a.channels()).get(name)
    if channel is None:
        raise ProblemError(404, f"no alert channel named {name!r}")
    report = await deliver_test(channel, a.store, app=api_state(request).app.name)
    await audit(a.client.backend, who, "alerts.channel.test", name,
                delivered=report["delivered"])  # fmt: skip
    return ChannelTestOut.model_validate(report)


@router.delete(
    "/channels/{name}",
    summary="Remove a stored channel",
    response_model=Done,
    openapi_extra=audited("alerts.channel.delete"),
)
async def delete_channel(
    name: Name, request: Request, a: AlertsDep, who: Principal = Admin
) -> Done:
    check_if_match(request, await _channel(a, name))
    if not await a.remove_channel(name):
        raise ProblemError(404, f"no stored alert channel named {name!r}")
    await audit(a.client.backend, who, "alerts.channel.delete", name)
    return Done(id=name, status="removed")
