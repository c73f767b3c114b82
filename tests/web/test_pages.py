"""Every view renders from the library's read models, with the security headers
and no inline script; the actions change what they say and are audited."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from chronoq import App, JobStatus
from chronoq.web import create_dashboard
from chronoq.web.security import CSP
from tests.web.conftest import Session, Tokens, client_for, log_in
from tests.worker.helpers import running_worker, wait_until

Login = Callable[[str], Awaitable[Session]]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE_ATTR = re.compile(r"\sstyle\s*=", re.I)


async def made_jobs(app: App) -> tuple[str, str]:
    """One job that succeeded (with a secret argument), one dead: run by a real worker."""
    async with app.client() as client, running_worker(app, queues=["default", "mail"]):
        ok = await client.enqueue("add", 2, 3, password="hunter2")
        dead = await client.enqueue("explode", "bob@example.com")

        async def finished() -> bool:
            jobs = [await client.job(ok.id), await client.job(dead.id)]
            return all(j.status.is_finished for j in jobs)

        await wait_until(finished, timeout=20)
    return ok.id, dead.id


def views(ok: str, dead: str) -> list[str]:
    return ["/", "/jobs", "/jobs?status=dead", f"/jobs/{ok}", f"/jobs/{dead}", "/failures",
            "/dead", f"/dead/{dead}/edit", "/dead/bulk?action=requeue", "/schedules",
            "/limits", "/quotas", "/workers", "/health", "/metrics", "/metrics?range=24h",
            "/metrics?range=7d", "/metrics?range=90d", "/alerts", "/audit",
            # the views of the library's newer read models
            "/queues/mail", "/queues/mail/drain", "/schedules/nightly", "/schedules/calendar",
            "/schedules/new", "/schedules/nightly/edit", "/schedules/nightly/backfill",
            "/schedules/nightly/backfill?start=2026-01-01T00:00%2B01:00&end=2026-01-03T00:00%2B01:00",
            "/schedules/validate?spec=0+3+*+*+*&tz=Europe/Paris", "/schedules/validate?spec=nope",
            "/locks", "/locks?held=1", "/locks/report/release", "/schedulers", "/operations",
            "/dead/bulk?action=purge&queue=mail", "/dead/bulk?action=resolve",
            "/workflows", "/campaigns", "/campaigns?state=draft"]  # fmt: skip


async def test_every_view_is_safe_to_render(
    web_app: App, dashboard: FastAPI, tokens: Tokens
) -> None:
    ok, dead = await made_jobs(web_app)
    async with client_for(dashboard) as http:
        login_page = await http.get("/login")
        assert login_page.headers["content-security-policy"] == CSP
        assert not INLINE_SCRIPT.search(login_page.text)
        await log_in(http, tokens.admin)
        for path in views(ok, dead):
            reply = await http.get(path)
            assert reply.status_code == 200, (path, reply.text[:300])
            assert reply.headers["content-security-policy"] == CSP, path
            assert reply.headers["x-frame-options"] == "DENY"
            assert reply.headers["x-content-type-options"] == "nosniff"
            html = reply.text
            assert not INLINE_SCRIPT.search(html), path
            assert not HANDLER.search(html), path
            assert not STYLE_ATTR.search(html), path
            assert "cdn" not in html.lower(), path
        static = await http.get("/static/htmx.min.js")
        assert static.status_code == 200 and "htmx" in static.text[:2000]
        assert (await http.get("/openapi.json")).status_code == 404
        assert (await http.get("/docs")).status_code == 404


async def test_the_job_page_shows_attempts_and_redacts(
    web_app: App, dashboard: FastAPI, tokens: Tokens
) -> None:
    ok, dead = await made_jobs(web_app)
    async with client_for(dashboard) as http:
        await log_in(http, tokens.read)
        page = (await http.get(f"/jobs/{ok}")).text
        assert "hunter2" not in page and "[redacted]" in page
        assert "chronoq enqueue add --args" in page and "succeeded" in page
        died = (await http.get(f"/jobs/{dead}")).text
        assert "ValueError: cannot send to bob@example.com" in died
        assert "Traceback" in died and "attempt 1" in died
        assert 'id="retry"' not in died  # a reader has no actions
        listed = (await http.get("/jobs?status=dead&queue=mail")).text
        assert dead in listed and ok not in listed
        assert (await http.get("/jobs?status=bogus")).status_code == 400
        negated = (await http.get("/jobs?filter=-status:succeeded")).text
        assert dead in negated and ok not in negated
        both = await http.get("/jobs?filter=task:add&task=add")
        assert both.status_code == 400 and "given twice" in both.text


async def test_edit_a_dead_payload_and_requeue(web_app: App, login: Login, tokens: Tokens) -> None:
    _, dead = await made_jobs(web_app)
    session = await login(tokens.operate)
    bad = await session.post(f"/dead/{dead}/edit", {"payload": "{nope"})
    assert bad.status_code == 400
    payload = '{"args": ["alice@example.com"], "kwargs": {}}'
    assert (await session.post(f"/dead/{dead}/edit", {"payload": payload})).status_code == 303
    async with web_app.client() as client:
        job = await client.job(dead)
        (entry, *_) = await client.backend.access.audit(limit=1)
    assert job.status is JobStatus.QUEUED and job.args == ["alice@example.com"]
    assert (entry.action, entry.target, entry.count) == ("dead.requeue_edited", dead, 1)


async def test_a_custom_redaction_hook(web_app: App, tokens: Tokens) -> None:
    def hide_all(
        task: str, args: list[object], kwargs: dict[str, object]
    ) -> tuple[list[object], dict[str, object]]:
        return ["***" for _ in args], {}

    ok, _ = await made_jobs(web_app)
    web = create_dashboard(web_app, redact=hide_all)
    async with web.router.lifespan_context(web), client_for(web) as http:
        await log_in(http, tokens.read)
        page = (await http.get(f"/jobs/{ok}")).text
        assert "***" in page and "--args" in page and "hunter2" not in page


async def test_retry_a_dead_job_is_audited(web_app: App, login: Login, tokens: Tokens) -> None:
    _, dead = await made_jobs(web_app)
    session = await login(tokens.operate)
    reply = await session.post(f"/jobs/{dead}/retry")
    assert reply.status_code == 303
    async with web_app.client() as client:
        assert (await client.job(dead)).status is JobStatus.QUEUED
        (entry, *_) = await client.backend.access.audit(limit=5)
    assert (entry.actor, entry.action, entry.target, entry.count) == (
        "operate-person", "jobs.retry", dead, 1)  # fmt: skip


async def test_pause_needs_a_reason_and_resume(web_app: App, login: Login, tokens: Tokens) -> None:
    async with web_app.schedules() as schedules:
        await schedules.add(web_app.declared_schedules["nightly"])
    session = await login(tokens.operate)
    assert (await session.post("/schedules/nightly/pause", {"reason": " "})).status_code == 400
    assert (
        await session.post("/schedules/nightly/pause", {"reason": "migration"})
    ).status_code == 303
    async with web_app.schedules() as schedules:
        assert (await schedules.get("nightly")).definition.paused
        page = (await session.http.get("/schedules")).text
        assert "Resume" in page
        assert (await session.post("/schedules/nightly/resume")).status_code == 303
        assert not (await schedules.get("nightly")).definition.paused
    async with web_app.backend() as backend:
        entries = await backend.access.audit(limit=2)
    assert [e.action for e in entries] == ["schedules.resume", "schedules.pause"]
    assert entries[1].detail == {"reason": "migration"}


async def test_edit_a_rate_limit(web_app: App, login: Login, tokens: Tokens) -> None:
    async with web_app.limits() as limits:
        await limits.set(web_app.declared_limits["partner"])
    session = await login(tokens.admin)
    bad = await session.post("/limits/partner", {"rate": "lots", "burst": "1", "min_gap": "0"})
    assert bad.status_code == 400
    reply = await session.post("/limits/partner", {"rate": "10/s", "burst": "5", "min_gap": "0"})
    assert reply.status_code == 303
    async with web_app.limits() as limits:
        changed = await limits.get("partner")
    assert (changed.rate_text, changed.burst) == ("10/second", 5)
    assert "10/second" in (await session.http.get("/limits")).text
