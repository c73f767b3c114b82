"""Issue 11's dashboard leftovers: "resolve all matching" on the dead letters (a
bulk operation with a dry run, a typed confirmation and a note, run by the
dashboard's runner), and the quotas page's use per account pushed live."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from chronoq import App
from chronoq.bulk import operations
from chronoq.web.live import LiveHub
from chronoq.web.state import DashboardState
from tests.web.conftest import Session, Tokens
from tests.web.test_operations import key_of
from tests.web.test_pages import made_jobs
from tests.worker.helpers import running_worker, wait_until

Login = Callable[[str], Awaitable[Session]]


async def test_resolve_all_matching_marks_each_dead_job_handled_with_the_note(
    web_app: App, login: Login, tokens: Tokens
) -> None:
    _, first = await made_jobs(web_app)
    _, second = await made_jobs(web_app)
    reader, session = await login(tokens.read), await login(tokens.operate)
    assert 'id="resolve-all"' not in (await reader.http.get("/dead")).text
    listing = (await session.http.get("/dead?queue=mail")).text
    assert 'href="/dead/bulk?action=resolve&queue=mail" id="resolve-all"' in listing
    preview = await session.http.get("/dead/bulk?action=resolve&queue=mail")
    assert 'id="dry-run-count">2<' in preview.text and 'name="note"' in preview.text
    form = {"action": "resolve", "queue": "mail", "key": key_of(preview.text),
            "note": "bounced: old list"}  # fmt: skip
    assert (await session.post("/dead/bulk", {**form, "confirm": "nope"})).status_code == 400
    assert (await reader.post("/dead/bulk", {**form, "confirm": "mail"})).status_code == 403
    assert (await session.post("/dead/bulk", {**form, "action": "bury"})).status_code == 400
    async with web_app.client() as client, operations(web_app) as ops:
        assert await ops.list() == []  # nothing made by the refused ones
        made = await session.post("/dead/bulk", {**form, "confirm": "mail"})
        assert made.status_code == 303
        op_id = made.headers["location"].rsplit("/", 1)[1]
        done = await ops.wait(op_id, timeout=20)  # the dashboard's runner ran it
        assert done.state.value == "done" and done.counts.get("resolved") == 2, done.to_dict()
        assert done.spec.edits.note == "bounced: old list"
        for job_id in (first, second):
            job = await client.job(job_id)
            assert job.status.value == "dead" and job.resolved_at is not None
            assert job.resolution == "bounced: old list"
        entries = await client.backend.access.audit(limit=5)
    assert ("operate-person", "operations.create") in [
        (e.actor, e.action) for e in entries if e.target == op_id
    ]


async def test_the_quotas_page_shows_each_accounts_use_live(
    web_app: App, login: Login, tokens: Tokens
) -> None:
    @web_app.task(name="mail.send", queue="default", quota="emails", account="{account}")
    def send(account: str) -> str:
        return account

    async def sends(client: object, account: str, n: int) -> None:
        jobs = [await client.enqueue("mail.send", account) for _ in range(n)]  # type: ignore[attr-defined]

        async def finished() -> bool:
            found = [await client.job(j.id) for j in jobs]  # type: ignore[attr-defined]
            return all(j.status.is_finished for j in found)

        await wait_until(finished, timeout=20)

    state = DashboardState(web_app, redact=None, session_ttl=60, allowed_origins=())
    hub = LiveHub(state, interval=0.1)
    try:
        async with web_app.client() as client, running_worker(web_app, queues=["default"]):
            await sends(client, "acme", 2)
            session = await login(tokens.read)
            page = (await session.http.get("/quotas")).text
            assert 'content="quotas"' in page and 'id="quota-usage-emails"' in page
            row = page[page.index('data-account="acme"') :].split("</tr>", 1)[0]
            assert "<td data-used>2</td><td>100</td>" in row, row
            tab = hub.subscribe("quotas")
            first = await asyncio.wait_for(tab.get(), 5)
            assert 'data-account="acme"' in first["quota-usage-emails"]
            await sends(client, "globex", 3)
            update = first
            while 'data-account="globex"><td>globex</td><td data-used>3<' not in update.get(
                "quota-usage-emails", ""
            ):
                update = await asyncio.wait_for(tab.get(), 10)
    finally:
        await hub.close()
        await state.close()
