"""The operators' views of the newer read models, over HTTP against real Redis:
queues paused, resumed and drained; a schedule's page, history, calendar,
backfill and spec check; a limit's live state; locks force-released."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from chronoq import App
from chronoq.core.errors import LockLost
from tests.web.conftest import Session, Tokens
from tests.web.test_pages import made_jobs

Login = Callable[[str], Awaitable[Session]]


async def test_pause_resume_and_drain_a_queue(web_app: App, login: Login, tokens: Tokens) -> None:
    async with web_app.client() as client:
        await client.enqueue("add", 1, 2)
        await client.enqueue("add", 3, 4)
    operator, admin = await login(tokens.operate), await login(tokens.admin)
    assert (await operator.post("/queues/default/pause", {"reason": " "})).status_code == 400
    assert (await operator.post("/queues/nowhere/pause", {"reason": "x"})).status_code == 404
    paused = await operator.post("/queues/default/pause", {"reason": "SMTP down"})
    assert paused.status_code == 303 and paused.headers["location"] == "/queues/default"
    page = (await operator.http.get("/queues/default")).text
    assert "data-queue-state>paused<" in page and "SMTP down" in page and "operate-person" in page
    overview = (await operator.http.get("/")).text
    assert "data-queue-state>paused<" in overview and "SMTP down" in overview
    htmx = await operator.http.post("/queues/default/resume",
                                    headers={"origin": "http://dash.test", "hx-request": "true",
                                             "x-csrf-token": operator.csrf})  # fmt: skip
    assert htmx.status_code == 200 and htmx.headers["hx-refresh"] == "true"
    async with web_app.queue_admin() as queues:
        assert await queues.paused() == {}
    preview = (await admin.http.get("/queues/default/drain")).text
    assert 'id="dry-run-count">2<' in preview
    assert (await admin.post("/queues/default/drain", {"confirm": "defualt"})).status_code == 400
    drained = await admin.post("/queues/default/drain", {"confirm": "default"})
    assert drained.status_code == 200 and "2 job(s) cancelled" in drained.text
    async with web_app.backend() as backend:
        entries = await backend.access.audit(limit=3)
    assert [(e.action, e.count) for e in entries] == [
        ("queues.drain", 2), ("queues.resume", 1), ("queues.pause", 1)]  # fmt: skip
    assert entries[2].detail == {"reason": "SMTP down"}


async def test_a_schedule_page_history_calendar_and_backfill(
    web_app: App, login: Login, tokens: Tokens
) -> None:
    async with web_app.schedules() as schedules:
        await schedules.add(web_app.declared_schedules["nightly"])
    session = await login(tokens.operate)
    assert (await session.post("/schedules/nightly/pause", {"reason": "migration",
                                                            "where": "detail"})).headers[
        "location"] == "/schedules/nightly"  # fmt: skip
    listed = (await session.http.get("/schedules")).text
    assert "data-pause-reason>migration" in listed
    assert (await session.post("/schedules/nightly/resume", {"reason": "done"})).status_code == 303
    page = (await session.http.get("/schedules/nightly")).text
    assert "data-schedule-state>active<" in page
    assert ">paused</span>" in page and ">resumed</span>" in page and "operate-person" in page
    # Paris, 0 3 * * *: the runs around the end of March cross a daylight-saving change.
    dst = (await session.http.get("/schedules/validate?spec=0+3+*+*+*&tz=Europe/Paris")).text
    assert 'data-spec-check="ok"' in dst
    monthly = await session.http.get("/schedules/validate?spec=0+3+1+*/3+*&tz=Europe/Paris")
    assert 'data-dst="forward"' in monthly.text and 'data-dst="back"' in monthly.text  # 5 quarters
    bad = (await session.http.get("/schedules/validate?spec=0+25+*+*+*")).text
    assert 'data-spec-check="bad"' in bad and "hour" in bad
    calendar = (await session.http.get("/schedules/calendar")).text
    assert 'data-calendar-schedule="nightly"' in calendar
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=3)
    query = {"start": start.isoformat(), "end": end.isoformat()}
    naive = await session.http.get("/schedules/nightly/backfill",
                                   params={**query, "start": "2026-01-01T00:00"})  # fmt: skip
    assert naive.status_code == 400 and "start" in naive.text
    preview = (await session.http.get("/schedules/nightly/backfill", params=query)).text
    assert 'id="dry-run-count">3<' in preview
    async with web_app.client() as client:
        assert (await client.queues()) == [] or all(q.waiting == 0 for q in await client.queues())
        refused = await session.post("/schedules/nightly/backfill", {**query, "confirm": "x"})
        assert refused.status_code == 400
        done = await session.post("/schedules/nightly/backfill", {**query, "confirm": "nightly"})
        assert done.status_code == 200 and "3 run(s) enqueued" in done.text
        assert sum(q.waiting for q in await client.queues()) == 3
    history = (await session.http.get("/schedules/nightly")).text
    assert ">backfilled</span>" in history


async def test_create_and_edit_check_the_spec_first(
    web_app: App, login: Login, tokens: Tokens
) -> None:
    await made_jobs(web_app)  # a worker registered the tasks
    session = await login(tokens.operate)
    form = {"name": "hourly", "spec": "0 * * * 9", "task": "add", "tz": "UTC", "args": "[1, 2]"}
    bad = await session.post("/schedules", form)
    assert bad.status_code == 400 and "spec" in bad.text
    unknown = await session.post("/schedules", {**form, "spec": "0 * * * *", "task": "nope"})
    assert unknown.status_code == 400 and "task" in unknown.text
    made = await session.post("/schedules", {**form, "spec": "0 * * * *"})
    assert made.status_code == 303 and made.headers["location"] == "/schedules/hourly"
    zone = await session.post("/schedules/hourly/edit", {"spec": "0 8 * * *", "tz": "Mars/Base"})
    assert zone.status_code == 400 and "tz" in zone.text
    edited = await session.post("/schedules/hourly/edit", {"spec": "0 8 * * *", "tz": "Asia/Tokyo"})
    assert edited.status_code == 303
    async with web_app.schedules() as schedules:
        d = (await schedules.get("hourly")).definition
    assert (d.spec, d.tz, d.args) == ("0 8 * * *", "Asia/Tokyo", [])


async def test_limits_show_live_state_and_hot_keys(
    web_app: App, login: Login, tokens: Tokens
) -> None:
    async with web_app.limits() as limits:
        await limits.set(web_app.declared_limits["partner"])
    session = await login(tokens.read)
    page = (await session.http.get("/limits")).text
    assert 'id="limit-state-partner"' in page and "Hot keys" in page
    assert 'name="chronoq-live" content="limits"' in page and "data-tokens>3<" in page


async def test_force_release_a_lock(web_app: App, login: Login, tokens: Tokens) -> None:
    operator, admin = await login(tokens.operate), await login(tokens.admin)
    with pytest.raises(LockLost):
        async with web_app.lock("report", ttl=30, renew=False) as lock:
            listed = (await admin.http.get("/locks")).text
            assert 'id="lock-report"' in listed and "data-lock-state>held<" in listed
            assert f"data-fence>{lock.fence}<" in listed
            preview = (await admin.http.get("/locks/report/release")).text
            assert f'name="fence" value="{lock.fence}"' in preview
            form = {"confirm": "report", "fence": str(lock.fence)}
            assert (await operator.post("/locks/report/release", form)).status_code == 403
            assert (await admin.post("/locks/report/release", {"confirm": "x"})).status_code == 400
            done = await admin.post("/locks/report/release", form)
            assert done.status_code == 200 and 'id="released">Released' in done.text
            again = await admin.post("/locks/report/release", form)
            assert "Not released" in again.text
    async with web_app.backend() as backend:
        (entry, *_) = await backend.access.audit(limit=1)
    assert (entry.action, entry.target, entry.actor) == ("locks.force_release", "report",
                                                         "admin-person")  # fmt: skip
