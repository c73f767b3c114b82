"""Cross-site requests refused: the Origin check on every unsafe method, the form
token on every action, and each action's role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi.routing import APIRoute

from chronoq.web.routes import ROUTERS
from tests.web.conftest import ORIGIN, Session, Tokens, log_in

Login = Callable[[str], Awaitable[Session]]


def post_routes() -> list[str]:
    paths = []
    for route in [r for router in ROUTERS for r in router.routes]:
        if isinstance(route, APIRoute) and "POST" in route.methods:
            path = route.path.replace("{job_id}", "01J0000000000000000000X")
            path = path.replace("{operation_id}", "01J0000000000000000000Y")
            paths.append(path.replace("{name}", "nightly").replace("{fingerprint}", "0" * 16))
    return paths


async def test_cross_origin_posts_are_refused(http: httpx.AsyncClient, tokens: Tokens) -> None:
    csrf = await log_in(http, tokens.admin)
    form = {"csrf": csrf, "rule": "queue_length", "duration": "1h", "reason": "deploy"}
    for headers in ({}, {"origin": "http://evil.example"}, {"origin": "null"},
                    {"referer": "http://evil.example/page"},
                    {"origin": "https://dash.test"}):  # fmt: skip
        reply = await http.post("/alerts/silence", data=form, headers=headers)
        assert reply.status_code == 403, headers
        assert "cross-origin" in reply.text
    same = await http.post("/alerts/silence", data=form, headers={"referer": ORIGIN + "/alerts"})
    assert same.status_code == 303  # the Referer stands in for a missing Origin


async def test_every_action_needs_the_form_token(http: httpx.AsyncClient, tokens: Tokens) -> None:
    csrf = await log_in(http, tokens.admin)
    paths = [p for p in post_routes() if p != "/login"]
    assert len(paths) >= 23
    for path in paths:
        for data in ({}, {"csrf": "0" * len(csrf)}):
            reply = await http.post(path, data=data, headers={"origin": ORIGIN})
            assert reply.status_code == 403, path
            assert "form token" in reply.text, path
        htmx = await http.post(path, headers={"origin": ORIGIN, "x-csrf-token": "nope"})
        assert htmx.status_code == 403, path


@pytest.mark.parametrize(
    ("role", "path", "data"),
    [
        ("read", "/schedules/nightly/trigger", {}),
        ("read", "/schedules/nightly/pause", {"reason": "x"}),
        ("read", "/jobs/01J0000000000000000000X/retry", {}),
        ("read", "/alerts/silence", {"rule": "queue_length", "reason": "x"}),
        ("operate", "/limits/partner", {"rate": "1/s"}),
        ("operate", "/quotas/emails", {"limit": "5"}),
        ("operate", "/dead/bulk", {"action": "purge", "queue": "mail", "confirm": "mail"}),
        ("read", "/dead/bulk", {"action": "requeue", "confirm": "all"}),
        ("read", "/queues/mail/pause", {"reason": "x"}),
        ("read", "/queues/mail/resume", {}),
        ("operate", "/queues/mail/drain", {"confirm": "mail"}),
        ("read", "/schedules", {"name": "n", "spec": "0 3 * * *", "task": "add"}),
        ("read", "/schedules/nightly/edit", {"spec": "0 4 * * *"}),
        ("read", "/schedules/nightly/resume", {}),
        ("read", "/schedules/nightly/backfill", {"confirm": "nightly"}),
        ("operate", "/locks/report/release", {"confirm": "report"}),
        ("read", "/operations/01J0000000000000000000Y/cancel", {}),
    ],
)
async def test_the_wrong_role_is_refused(
    login: Login, tokens: Tokens, role: str, path: str, data: dict[str, str]
) -> None:
    session = await login(getattr(tokens, role))
    reply = await session.post(path, data)
    assert reply.status_code == 403
    assert "role" in reply.text


async def test_every_action_refuses_another_origin(http: httpx.AsyncClient, tokens: Tokens) -> None:
    csrf = await log_in(http, tokens.admin)
    for path in post_routes():
        reply = await http.post(path, data={"csrf": csrf}, headers={"origin": "http://evil.test"})
        assert reply.status_code == 403 and "cross-origin" in reply.text, path
