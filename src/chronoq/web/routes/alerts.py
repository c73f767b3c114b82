"""Alerts: pending, firing and resolved states, the rules in force, silences and
recent deliveries; silence a rule for a while (with a reason), lift a silence."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.manage import Alerts
from chronoq.schedule.spec import parse_duration
from chronoq.web.auth import Operator, Reader, audit, base_of, state_of
from chronoq.web.render import page

router = APIRouter()


async def _alerts(request: Request) -> Alerts:
    state = state_of(request)
    app = state.app
    return Alerts(await state.client(), app.timezone, app.declared_alert_rules,
                  app.declared_alert_channels)  # fmt: skip


@router.get("/alerts")
async def alerts(request: Request, who: Reader) -> Response:
    manager = await _alerts(request)
    order = {"firing": 0, "pending": 1, "resolved": 2}
    states = sorted(await manager.states(), key=lambda s: (order.get(s.state, 3), -s.since))
    return page(request, "alerts.html", view="alerts", states=states,
                rules=await manager.rules(), silences=await manager.silences(),
                deliveries=await manager.deliveries(20))  # fmt: skip


@router.post("/alerts/silence")
async def silence(
    request: Request,
    *,
    rule: str = Form(...),
    duration: str = Form("1h"),
    reason: str = Form(""),
    subject: str = Form(""),
    who: Operator,
) -> Response:
    seconds = parse_duration(duration.strip()).total_seconds()
    made = await (await _alerts(request)).silence(rule, seconds, reason, subject=subject)
    await audit(request, who, "alerts.silence", target=rule, count=1,
                detail={"until": made.until, "reason": reason, "subject": subject})  # fmt: skip
    return RedirectResponse(f"{base_of(request)}/alerts", status_code=303)


@router.post("/alerts/unsilence")
async def unsilence(
    request: Request,
    *,
    rule: str = Form(...),
    subject: str = Form(""),
    who: Operator,
) -> Response:
    done = await (await _alerts(request)).unsilence(rule, subject=subject)
    await audit(request, who, "alerts.unsilence", target=rule, count=int(done),
                detail={"subject": subject})  # fmt: skip
    return RedirectResponse(f"{base_of(request)}/alerts", status_code=303)
