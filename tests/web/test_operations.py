"""Bulk actions from the dashboard are bulk operations: created with the filter
(after a dry-run count and a typed confirmation), run by the dashboard's own
operation runner, their progress on a page pushed live, cancellable, audited by
the library under the viewer's name."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from chronoq import App
from chronoq.bulk import operations
from chronoq.web.live import LiveHub
from chronoq.web.state import DashboardState
from tests.web.conftest import Session, Tokens
from tests.web.test_pages import made_jobs

Login = Callable[[str], Awaitable[Session]]


def key_of(page: str) -> str:
    found = re.search(r'name="key" value="([0-9a-f]+)"', page)
    assert found, page[:500]
    return found.group(1)


async def test_bulk_requeue_is_an_operation_the_server_runs(
    web_app: App, login: Login, tokens: Tokens
) -> None:
    await made_jobs(web_app)
    await made_jobs(web_app)
    session = await login(tokens.operate)
    preview = await session.http.get("/dead/bulk?action=requeue&queue=mail")
    assert 'id="dry-run-count">2<' in preview.text
    form = {"action": "requeue", "queue": "mail", "key": key_of(preview.text)}
    wrong = await session.post("/dead/bulk", {**form, "confirm": "mial"})
    assert wrong.status_code == 400 and "type &#39;mail&#39;" in wrong.text
    async with web_app.client() as client, operations(web_app) as ops:
        assert await ops.list() == []  # nothing made
        made = await session.post("/dead/bulk", {**form, "confirm": "mail"})
        assert made.status_code == 303
        op_id = made.headers["location"].rsplit("/", 1)[1]
        again = await session.post("/dead/bulk", {**form, "confirm": "mail"})  # a double click
        assert again.headers["location"] == made.headers["location"]
        done = await ops.wait(op_id, timeout=20)  # the dashboard's runner ran it
        assert done.state.value == "done" and done.counts.get("requeued") == 2
        assert await client.dead_jobs() == []
        page = (await session.http.get(f"/operations/{op_id}")).text
        assert "data-operation-state>done<" in page and 'name="chronoq-live"' not in page
        listed = (await session.http.get("/operations")).text
        assert op_id in listed and "queue:mail" in listed
        entries = await client.backend.access.audit(limit=5)
    mine = [(e.actor, e.action) for e in entries if e.target == op_id]
    assert ("operate-person", "operations.create") in mine
    assert any(action == "operations.done" for _, action in mine)


async def test_a_dry_run_changes_nothing_and_needs_no_confirmation(
    web_app: App, login: Login, tokens: Tokens
) -> None:
    await made_jobs(web_app)
    session = await login(tokens.operate)
    made = await session.post("/dead/bulk", {"action": "requeue", "dry_run": "1"})
    assert made.status_code == 303
    op_id = made.headers["location"].rsplit("/", 1)[1]
    async with web_app.client() as client, operations(web_app) as ops:
        done = await ops.wait(op_id, timeout=20)
        assert done.spec.dry_run and done.counts.get("requeued") == 1
        assert len(await client.dead_jobs()) == 1  # still dead


async def test_purge_needs_admin_and_cancel_needs_operate(
    web_app: App, login: Login, tokens: Tokens
) -> None:
    await made_jobs(web_app)
    reader, operator = await login(tokens.read), await login(tokens.operate)
    purge = {"action": "purge", "queue": "mail", "confirm": "mail"}
    assert (await operator.post("/dead/bulk", purge)).status_code == 403
    assert (await operator.http.get("/dead/bulk?action=purge")).status_code == 403
    async with operations(web_app) as ops:
        op = await ops.create("requeue", "queue:nowhere", actor="test")
        refused = await reader.post(f"/operations/{op.id}/cancel")
        assert refused.status_code == 403 and "role" in refused.text
        assert (await operator.post(f"/operations/{op.id}/cancel")).status_code == 303
        assert (await ops.get(op.id)).state.value in ("cancelled", "done")
        assert (await operator.http.get("/operations/nope")).status_code == 404


async def test_progress_is_pushed_over_the_live_stream(
    web_app: App, login: Login, tokens: Tokens
) -> None:
    """The operation's page listens to `operation:<id>`; the hub sends its state
    and then each change (here: a runner of this test's own finishing it)."""
    session = await login(tokens.read)
    async with operations(web_app) as ops:
        await made_jobs(web_app)
        op = await ops.create("requeue", "queue:mail", actor="test", dry_run=True)
        page = (await session.http.get(f"/operations/{op.id}")).text
        assert f'content="operation:{op.id}"' in page or "data-operation-state>done<" in page
        state = DashboardState(web_app, redact=None, session_ttl=60, allowed_origins=(),
                               run_operations=False)  # fmt: skip
        hub = LiveHub(state, interval=0.1)
        try:
            tab = hub.subscribe(f"operation:{op.id}")
            first = await asyncio.wait_for(tab.get(), 5)
            assert "data-operation-state>" in first["operation-progress"]
            await ops.run(op.id)
            while "data-operation-state>done<" not in first.get("operation-progress", ""):
                first = await asyncio.wait_for(tab.get(), 5)
            assert 'data-outcome="requeued">1<' in first["operation-progress"]
        finally:
            await hub.close()
            await state.close()
