"""Login with a token, the session cookie, logout, revocation, and pages refused
without a session."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from chronoq import App
from chronoq.web import create_dashboard
from tests.web.conftest import ORIGIN, Tokens, client_for, log_in

PAGES = ["/", "/jobs", "/failures", "/dead", "/schedules", "/limits", "/quotas", "/workers",
         "/health", "/metrics", "/alerts", "/audit", "/events?view=overview", "/workflows",
         "/workflows/some-id", "/events?view=quotas", "/campaigns",
         "/campaigns/some-name"]  # fmt: skip


async def test_every_page_needs_a_session(http: httpx.AsyncClient) -> None:
    for path in PAGES:
        reply = await http.get(path)
        assert reply.status_code == 303, path
        assert reply.headers["location"].startswith("/login?next="), path
    htmx = await http.get("/jobs", headers={"hx-request": "true"})
    assert htmx.status_code == 401
    assert htmx.headers["hx-redirect"] == "/login?next=%2Fjobs"


async def test_a_bad_token_is_refused(http: httpx.AsyncClient, tokens: Tokens) -> None:
    for token in ("", "nonsense", tokens.read + "0", tokens.read[:-1] + "x"):
        reply = await http.post("/login", data={"token": token}, headers={"origin": ORIGIN})
        assert reply.status_code == 401
        assert "unknown, revoked or mistyped" in reply.text
        assert "set-cookie" not in reply.headers
    assert (await http.get("/")).status_code == 303


async def test_the_session_cookie_is_locked_down(http: httpx.AsyncClient, tokens: Tokens) -> None:
    reply = await http.post("/login", data={"token": tokens.read}, headers={"origin": ORIGIN})
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # served over http here
    page = await http.get("/")
    assert page.status_code == 200 and "read-person" in page.text


async def test_the_cookie_is_secure_over_https(dashboard: FastAPI, tokens: Tokens) -> None:
    async with client_for(dashboard, "https://dash.test") as https:
        reply = await https.post(
            "/login", data={"token": tokens.read}, headers={"origin": "https://dash.test"}
        )
        assert "secure" in reply.headers["set-cookie"].lower()


async def test_next_never_leaves_the_dashboard(http: httpx.AsyncClient, tokens: Tokens) -> None:
    for target, expected in (("/jobs?status=dead", "/jobs?status=dead"),
                             ("//evil.example/x", "/"), ("https://evil.example", "/")):  # fmt: skip
        reply = await http.post(
            "/login", data={"token": tokens.read, "next": target}, headers={"origin": ORIGIN}
        )
        assert reply.headers["location"] == expected


async def test_logout_and_revocation_end_sessions(
    dashboard: FastAPI, web_app: App, tokens: Tokens
) -> None:
    async with client_for(dashboard) as one, client_for(dashboard) as two:
        csrf = await log_in(one, tokens.operate)
        await log_in(two, tokens.operate)
        reply = await one.post("/logout", data={"csrf": csrf}, headers={"origin": ORIGIN})
        assert reply.status_code == 303
        one.cookies.clear()  # the browser drops it; the server forgot it anyway
        assert (await one.get("/")).status_code == 303
        assert (await two.get("/")).status_code == 200
        async with web_app.backend() as backend:
            assert [r.name for r in await backend.access.revoke("operate-person")]
        assert (await two.get("/")).status_code == 303  # revoking the token ended it


async def test_a_stolen_cookie_for_another_token_is_refused(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    await log_in(http, tokens.read)
    session_id = http.cookies["chronoq_session"]
    token_id, _, secret = session_id.partition(".")
    forged = ("0" * len(token_id)) + "." + secret
    http.cookies.set("chronoq_session", forged)
    assert (await http.get("/")).status_code == 303


async def test_mounted_under_a_path(web_app: App, tokens: Tokens) -> None:
    site, dashboard = FastAPI(), create_dashboard(web_app)
    site.mount("/ops", dashboard)  # a mounted app's lifespan never runs: closed below
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=site),
                                 base_url=ORIGIN) as http:  # fmt: skip
        first = await http.get("/ops/jobs")
        assert first.headers["location"] == "/ops/login?next=%2Fjobs"
        reply = await http.post(
            "/ops/login", data={"token": tokens.read, "next": "/jobs"}, headers={"origin": ORIGIN}
        )
        assert reply.headers["location"] == "/ops/jobs"
        assert "path=/ops/" in reply.headers["set-cookie"].lower()
        page = await http.get("/ops/jobs")
        assert page.status_code == 200
        assert 'href="/ops/static/chronoq.css"' in page.text
        assert (await http.get("/ops/static/chronoq.js")).status_code == 200
    await dashboard.state.chronoq.close()
