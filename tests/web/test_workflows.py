"""The workflows view: the list with status and progress, one workflow as one
tree whose steps link to their jobs (and each step's job page back to its
workflow), pause/resume/cancel with the form token and the operate role, and the
tree pushed live as the steps run. Real Redis, a real worker."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from chronoq import App, Chain, Step, fan_out
from chronoq.web.live import LiveHub
from chronoq.web.state import DashboardState
from tests.web.conftest import Session, Tokens
from tests.web.test_pages import HANDLER, INLINE_SCRIPT, STYLE_ATTR
from tests.worker.helpers import running_worker, wait_until

Login = Callable[[str], Awaitable[Session]]


async def _ran(app: App) -> tuple[str, dict[str, Any]]:
    """A chain of one step then a fan-out of two, run to its end by a real worker."""
    chain = Chain([Step("add", 1, 2), fan_out("add", [10, 20], 5)], name="web-flow")
    async with app.workflows() as flows, running_worker(app, queues=["default"]):
        wf_id = await flows.start(chain)

        async def ended() -> bool:
            return (await flows.show(wf_id))["status"] == "completed"

        await wait_until(ended, timeout=30, interval=0.05)
        return wf_id, await flows.show(wf_id)


async def test_the_list_and_the_tree_link_steps_to_jobs_and_back(
    web_app: App, login: Login, tokens: Tokens
) -> None:
    wf_id, tree = await _ran(web_app)
    jobs = [n["job"] for s in tree["stages"] for n in s["nodes"]]
    assert len(jobs) == 3 and all(jobs)
    session = await login(tokens.read)
    listed = (await session.http.get("/workflows")).text
    row = listed[listed.index(f'data-workflow="{wf_id}"') :].split("</tr>", 1)[0]
    assert "web-flow" in row and "data-status>completed<" in row
    assert "data-progress>2/2<" in row
    assert 'href="/workflows"' in listed and 'aria-current="page">Workflows<' in listed
    one = (await session.http.get(f"/workflows/{wf_id}")).text
    for html in (listed, one):  # the CSP allows no inline script or style
        assert not (INLINE_SCRIPT.search(html) or HANDLER.search(html) or STYLE_ATTR.search(html))
    for job_id in jobs:
        assert f'href="/jobs/{job_id}"' in one
    assert "1. step <code>add</code>" in one and "2. fan-out <code>add</code>" in one
    assert "3/3 steps ended" in one and "<code>25</code>" in one  # 20 + 5, the last branch
    assert 'name="chronoq-live"' not in one  # ended: nothing more to push
    assert 'id="workflow-pause"' not in one  # a reader, and an ended workflow: no actions
    step_page = (await session.http.get(f"/jobs/{jobs[1]}")).text
    found = re.search(r'href="/workflows/([^"#]+)#node-([^"]+)" id="job-workflow"', step_page)
    assert found and found.groups() == (wf_id, "1.0"), step_page[:2000]
    plain = (await session.http.get("/jobs?status=succeeded")).text
    assert "job-workflow" not in plain
    assert (await session.http.get("/workflows/nope")).status_code == 404


async def test_pause_resume_cancel_need_operate_and_the_form_token(
    web_app: App, login: Login, tokens: Tokens
) -> None:
    chain = Chain([Step("add", 1, 2), Step("add", 4, after="1h")], name="held")
    async with web_app.workflows() as flows:
        wf_id = await flows.start(chain)
        reader, operator = await login(tokens.read), await login(tokens.operate)
        refused = await reader.post(f"/workflows/{wf_id}/pause")
        assert refused.status_code == 403 and (await flows.show(wf_id))["status"] == "running"
        no_token = await operator.http.post(f"/workflows/{wf_id}/pause",
                                            headers={"origin": "http://dash.test"})  # fmt: skip
        assert no_token.status_code == 403
        page = (await operator.http.get(f"/workflows/{wf_id}")).text
        assert 'id="workflow-pause"' in page and f'content="workflow:{wf_id}"' in page
        assert (await operator.post(f"/workflows/{wf_id}/pause")).status_code == 303
        assert (await flows.show(wf_id))["status"] == "paused"
        page = (await operator.http.get(f"/workflows/{wf_id}")).text
        assert 'id="workflow-resume"' in page and "data-workflow-status>paused<" in page
        assert (await operator.post(f"/workflows/{wf_id}/resume")).status_code == 303
        assert (await flows.show(wf_id))["status"] == "running"
        assert (await operator.post(f"/workflows/{wf_id}/cancel")).status_code == 303
        assert (await flows.show(wf_id))["status"] == "cancelled"
        assert (await operator.post(f"/workflows/{wf_id}/explode")).status_code == 400
        assert (await operator.post("/workflows/nope/pause")).status_code == 404
    async with web_app.backend() as backend:
        entries = await backend.access.audit(limit=3)
    assert [(e.action, e.actor, e.target) for e in entries] == [
        (f"workflows.{a}", "operate-person", wf_id) for a in ("cancel", "resume", "pause")
    ]


async def test_the_tree_and_the_list_are_pushed_live(web_app: App) -> None:
    chain = Chain([Step("add", 1, 2), fan_out("add", [1, 2, 3], 1)], name="live-flow")
    state = DashboardState(web_app, redact=None, session_ttl=60, allowed_origins=())
    hub = LiveHub(state, interval=0.1)
    try:
        async with web_app.workflows() as flows:
            wf_id = await flows.start(chain)
            tree = hub.subscribe(f"workflow:{wf_id}")
            listing = hub.subscribe("workflows")
            first = await asyncio.wait_for(tree.get(), 5)
            assert "data-workflow-status>running<" in first["workflow-tree"]
            assert wf_id in (await asyncio.wait_for(listing.get(), 5))["workflow-list"]
            async with running_worker(web_app, queues=["default"]):
                update = first
                while "data-workflow-status>completed<" not in update["workflow-tree"]:
                    update = await asyncio.wait_for(tree.get(), 20)
            assert "4/4 steps ended" in update["workflow-tree"]
    finally:
        await hub.close()
        await state.close()
