"""Who is looking: the session cookie, the role checks and the form token.

A person logs in by pasting a token (`chronoq tokens create`); the dashboard opens
a session in Redis (`AccessStore.create_session`) and sets its id as a cookie the
page's scripts cannot read (HttpOnly), that other sites' requests do not carry
(SameSite=Strict), sent only over HTTPS when served over HTTPS (Secure). Revoking
the token ends its sessions: each request checks the token still exists.

Every page needs a session (else a redirect to the login page); every action needs
the role it names (else 403) and the session's form token, from the form field
`csrf` or the `X-CSRF-Token` header htmx sends (else 403).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chronoq.core.access import AuditEntry, Role, Session, TokenRecord
from chronoq.web.state import DashboardState

COOKIE = "chronoq_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The logged-in person: their token's record and their session."""

    token: TokenRecord
    session: Session

    @property
    def name(self) -> str:
        return self.token.name

    @property
    def role(self) -> Role:
        return self.token.role

    def can(self, needed: Role | str) -> bool:
        return self.role.allows(Role(needed) if isinstance(needed, str) else needed)


class LoginRequired(Exception):
    """No valid session: the handler sends the browser to the login page."""


class Forbidden(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def state_of(request: Request) -> DashboardState:
    state: DashboardState = request.app.state.chronoq
    return state


def base_of(request: Request) -> str:
    """The path the dashboard is mounted at ('' at the root)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


async def current_viewer(request: Request) -> Viewer | None:
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        return None
    backend = await state_of(request).backend()
    found = await backend.access.session(session_id)
    if found is None:
        return None
    session, token = found
    return Viewer(token, session)


async def viewer(request: Request) -> Viewer:
    """Dependency of every page: the viewer, or LoginRequired."""
    found = await current_viewer(request)
    if found is None:
        raise LoginRequired
    request.state.viewer = found
    state_of(request).base = base_of(request)
    return found


def acting(needed: Role) -> Callable[[Request], Awaitable[Viewer]]:
    """Dependency of every action: a viewer with `needed`, whose request carries
    the session's form token. (The Origin check ran before, in SecurityMiddleware.)"""

    async def check(request: Request) -> Viewer:
        who = await viewer(request)
        presented = request.headers.get(CSRF_HEADER)
        if presented is None:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
        if not presented or not hmac.compare_digest(presented, who.session.csrf):
            raise Forbidden("the form token is missing or wrong: reload the page")
        if not who.can(needed):
            raise Forbidden(f"this needs the {needed.value} role; your token has {who.role.value}")
        return who

    return check


# What routes declare: `who: Reader` for a page, `who: Operator` for an action.
Reader = Annotated[Viewer, Depends(viewer)]
Anyone = Annotated[Viewer, Depends(acting(Role.READ))]  # any role, form token checked
Operator = Annotated[Viewer, Depends(acting(Role.OPERATE))]
Admin = Annotated[Viewer, Depends(acting(Role.ADMIN))]


async def audit(request: Request, who: Viewer, action: str, **fields: Any) -> None:
    """Write the action to the audit log (actor: the token's name)."""
    backend = await state_of(request).backend()
    await backend.access.record(AuditEntry(who.name, action, **fields))


def login_redirect(request: Request) -> Response:
    base = base_of(request)
    target = request.url.path[len(base) :] if request.url.path.startswith(base) else "/"
    if request.url.query:
        target += "?" + request.url.query
    where = f"{base}/login?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": where})
    return RedirectResponse(where, status_code=303)


def forbidden(request: Request, reason: str) -> Response:
    if request.headers.get("hx-request"):
        return HTMLResponse(f'<p class="flash error">{_escape(reason)}</p>', status_code=403,
                            headers={"HX-Retarget": "#flash"})  # fmt: skip
    return HTMLResponse(f"<!doctype html><title>403</title><p>{_escape(reason)}</p>", 403)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
