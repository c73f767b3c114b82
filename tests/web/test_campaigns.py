"""The campaigns views: the list (state, progress, next send) and a campaign's page
(steps with their progress, next sends, runs, the forecast as a calendar), its
pause/resume/schedule/cancel forms (form token, roles, audit), the pages pushed
live, and a step job's page naming its campaign. Real Redis, a real worker."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from chronoq import App
from chronoq.campaigns import campaigns
from chronoq.web.live import LiveHub
from chronoq.web.state import DashboardState
from tests.campaign_shell_app import add_campaign_tasks, later, spec
from tests.web.conftest import ORIGIN, Session, Tokens
from tests.web.test_pages import HANDLER, INLINE_SCRIPT, STYLE_ATTR
from tests.worker.helpers import running_worker, wait_until

Login = Callable[[str], Awaitable[Session]]
FIVE = [{"email": f"p{i}@x{i}.com"} for i in range(5)]
EACH = [{"name": "email", "task": "outreach.email", "each": True}]


def _safe(html: str) -> None:
    assert not (INLINE_SCRIPT.search(html) or HANDLER.search(html) or STYLE_ATTR.search(html))


async def test_the_list_and_a_campaign_page_with_its_forecast_calendar(
    web_app: App, login: Login, tokens: Tokens, redis_url: str, prefix: str
) -> None:
    add_campaign_tasks(web_app, redis_url, prefix)
    async with campaigns(web_app) as c:
        await c.create(later("autumn", steps=EACH, recipients=FIVE, pacing={"per_day": 2}))
        await c.create(later("winter"), draft=True)
        expected = await c.forecast("autumn")
    reader = await login(tokens.read)
    listed = (await reader.http.get("/campaigns")).text
    _safe(listed)
    assert 'aria-current="page">Campaigns<' in listed and 'content="campaigns"' in listed
    row = listed[listed.index('data-campaign="autumn"') :].split("</tr>", 1)[0]
    assert "data-state>scheduled<" in row and "<td>acme</td>" in row
    assert "data-state>draft<" in listed
    drafts = (await reader.http.get("/campaigns?state=draft")).text
    assert 'data-campaign="winter"' in drafts and 'data-campaign="autumn"' not in drafts
    assert (await reader.http.get("/campaigns?state=asleep")).status_code == 400
    page = (await reader.http.get("/campaigns/autumn")).text
    _safe(page)
    assert 'content="campaign:autumn"' in page and "data-campaign-state>scheduled<" in page
    assert 'data-step="email"' in page and "No run yet." in page
    sentence = expected.text()
    assert f'<p id="forecast-text">{sentence[0].upper()}{sentence[1:]} (5 sends).</p>' in page
    counts = dict(re.findall(r'data-day="([0-9-]+)"><span class="date">\d+</span> '
                             r"<strong data-sends>(\d+)</strong>", page))  # fmt: skip
    assert {d: int(n) for d, n in counts.items()} == {
        day.isoformat(): n for day, n in expected.by_day.items()}  # fmt: skip
    assert sum(int(n) for n in counts.values()) == 5
    assert 'id="campaign-pause"' not in page  # a reader: no actions
    admin = await login(tokens.admin)
    page = (await admin.http.get("/campaigns/autumn")).text
    assert 'id="campaign-pause"' in page and 'id="campaign-cancel"' in page
    assert 'id="campaign-schedule"' in (await admin.http.get("/campaigns/winter")).text
    assert (await reader.http.get("/campaigns/nope")).status_code == 404
    assert (await reader.http.get("/campaigns/Not%20One")).status_code == 404


async def test_pause_resume_schedule_cancel_need_their_role_and_the_form_token(
    web_app: App, login: Login, tokens: Tokens, redis_url: str, prefix: str
) -> None:
    add_campaign_tasks(web_app, redis_url, prefix)
    async with campaigns(web_app) as c:
        await c.create(later("autumn"))
        await c.create(later("winter"), draft=True)
        reader, operator = await login(tokens.read), await login(tokens.operate)
        admin = await login(tokens.admin)
        assert (await reader.post("/campaigns/autumn/pause")).status_code == 403
        bare = await operator.http.post("/campaigns/autumn/pause", data={"reason": "x"},
                                        headers={"origin": ORIGIN})  # fmt: skip
        assert bare.status_code == 403 and (await c.get("autumn")).state.value == "scheduled"
        done = await operator.post("/campaigns/autumn/pause", {"reason": "holiday"})
        assert done.status_code == 303 and done.headers["location"] == "/campaigns/autumn"
        view = await c.get("autumn")
        assert view.state.value == "paused" and view.pause_reason == "holiday"
        page = (await operator.http.get("/campaigns/autumn")).text
        assert 'id="campaign-resume"' in page and "holiday" in page
        assert (await operator.post("/campaigns/autumn/resume")).status_code == 303
        assert (await c.get("autumn")).state.value == "scheduled"
        assert (await operator.post("/campaigns/winter/schedule")).status_code == 403
        assert (await operator.post("/campaigns/autumn/cancel")).status_code == 403
        assert (await admin.post("/campaigns/winter/schedule")).status_code == 303
        assert (await c.get("winter")).state.value == "scheduled"
        assert (await admin.post("/campaigns/autumn/cancel")).status_code == 303
        assert (await c.get("autumn")).state.value == "cancelled"
        refused = await operator.post("/campaigns/autumn/resume")
        assert refused.status_code == 400 and "cancelled" in refused.text
        assert (await operator.post("/campaigns/autumn/explode")).status_code == 400
        assert (await operator.post("/campaigns/nope/pause")).status_code == 404
    async with web_app.backend() as backend:
        entries = await backend.access.audit(limit=10)
    mine = [(e.action, e.target, e.actor) for e in entries if e.action.startswith("campaigns.")]
    assert mine == [("campaigns.cancel", "autumn", "admin-person"),
                    ("campaigns.schedule", "winter", "admin-person"),
                    ("campaigns.resume", "autumn", "operate-person"),
                    ("campaigns.pause", "autumn", "operate-person")]  # fmt: skip


async def test_a_run_shows_its_progress_next_sends_and_runs_live(
    web_app: App, login: Login, tokens: Tokens, redis_url: str, prefix: str
) -> None:
    """Three recipients at one a day: the first is sent, the other two wait (the
    next sends); the page shows the steps, the run, and the step job names its
    campaign. The campaign's view is pushed live as the run goes."""
    add_campaign_tasks(web_app, redis_url, prefix)
    state = DashboardState(web_app, redact=None, session_ttl=60, allowed_origins=())
    hub = LiveHub(state, interval=0.1)
    try:
        async with campaigns(web_app) as c:
            await c.create(spec("spring", pacing={"per_day": 1}))
            tab = hub.subscribe("campaign:spring")
            first = await asyncio.wait_for(tab.get(), 5)
            assert "data-campaign-state>scheduled<" in first["campaign-state"]

            async def one_sent() -> bool:
                steps = {s.name: s for s in (await c.get("spring")).steps}
                return steps["email"].sent == 1 and steps["email"].pending == 2

            async with running_worker(web_app, burst=False, concurrency=4):
                await wait_until(one_sent, timeout=60, interval=0.2)
            update = first
            while "data-sent>1<" not in update.get("campaign-state", ""):
                update = await asyncio.wait_for(tab.get(), 10)
            view = await c.get("spring")
        session = await login(tokens.read)
        page = (await session.http.get("/campaigns/spring")).text
        _safe(page)
        assert "data-campaign-state>running<" in page, page[:3000]
        assert f'href="/workflows/{view.current_run}"' in page
        sends = page[page.index('class="next-sends"') :].split("</table>", 1)[0]
        waiting = re.findall(r"<td>email</td><td>([^<]+)</td>", sends)
        assert len(waiting) == 2 and set(waiting) < {"ana@example.com", "bo@example.org",
                                                     "cy@example.net"}  # fmt: skip
        assert 'data-run="1"' in page and "cmp-spring-1" in page
        tree = await (await state.client()).backend.workflows.load(view.current_run or "")
        assert tree is not None
        sent_job = next(n["job"] for n in tree.nodes.values()
                        if n["state"] == "succeeded" and n.get("item") is not None)  # fmt: skip
        job_page = (await session.http.get(f"/jobs/{sent_job}")).text
        assert 'href="/campaigns/spring" id="job-campaign">spring<' in job_page
        assert "(run 1)" in job_page and 'id="job-workflow"' in job_page
        listed = (await session.http.get("/campaigns")).text
        row = listed[listed.index('data-campaign="spring"') :].split("</tr>", 1)[0]
        assert "data-progress>2/4<" in row and "data-recipients>3<" in row  # search + 1 sent
    finally:
        await hub.close()
        await state.close()
