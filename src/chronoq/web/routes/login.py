"""Log in with a token, log out."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.core.access import AuditEntry
from chronoq.web.auth import COOKIE, Anyone, base_of, current_viewer, state_of
from chronoq.web.render import page

router = APIRouter()


def _safe_next(target: str) -> str:
    """Only a path of this dashboard: never another site (an open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    if await current_viewer(request) is not None:
        return RedirectResponse(base_of(request) + _safe_next(next), status_code=303)
    return page(request, "login.html", next=_safe_next(next), title="Log in")


@router.post("/login")
async def login(
    request: Request,
    *,
    token: str = Form(""),
    next: str = Form("/"),
) -> Response:
    state = state_of(request)
    backend = await state.backend()
    record = await backend.access.verify(token.strip())
    if record is None:
        return page(
            request,
            "login.html",
            status_code=401,
            next=_safe_next(next),
            error="That token is unknown, revoked or mistyped.",
        )
    session = await backend.access.create_session(record, state.session_ttl)
    await backend.access.record(AuditEntry(record.name, "dashboard.login", target=record.id))
    response = RedirectResponse(base_of(request) + _safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        session.id,
        max_age=int(state.session_ttl),
        path=(base_of(request) or "") + "/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request, who: Anyone) -> Response:
    backend = await state_of(request).backend()
    await backend.access.drop_session(who.session.id)
    response = RedirectResponse(base_of(request) + "/login", status_code=303)
    response.delete_cookie(COOKIE, path=(base_of(request) or "") + "/")
    return response
