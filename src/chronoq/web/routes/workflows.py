"""Workflows: the newest first with their status and progress, and one workflow as
one tree (its stages in order, each stage's steps with their job, state, due time,
result or error), both pushed live; pause, resume and cancel (operate). The read
model is `chronoq.workflows.view` (the JSON of `chronoq workflows show`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chronoq.core.errors import ConfigurationError, JobNotFound
from chronoq.web.auth import Operator, Reader, audit, state_of
from chronoq.web.live import Fragments, Tick, live_view
from chronoq.web.render import back, page, render_fragment
from chronoq.web.state import DashboardState
from chronoq.workflows import Workflows

router = APIRouter()
LISTED = 50
ENDED = ("completed", "failed", "cancelled")
ACTIONS = ("pause", "resume", "cancel")


async def _flows(state: DashboardState) -> Workflows:
    return Workflows(await state.client())  # the shared client: no close


def progress(status: str, stage: int, stages: int) -> dict[str, Any]:
    """Stages done of stages: the open stage is not done until the workflow ends."""
    total = max(stages, 1)
    return {"done": total if status == "completed" else min(stage, total), "total": total}


def counted(tree: dict[str, Any]) -> dict[str, Any]:
    """The tree with each stage's step counts by state, and the whole's progress:
    steps ended (succeeded, dead or cancelled) of the steps opened so far."""
    opened = ended = 0
    for stage in tree["stages"]:
        by_state = Counter(node["state"] for node in stage["nodes"])
        stage["counts"] = dict(sorted(by_state.items()))
        opened += len(stage["nodes"])
        ended += sum(n for s, n in by_state.items() if s in ("succeeded", "dead", "cancelled"))
    done = progress(tree["status"], tree["stage"], len(tree["stages"]))
    return {**tree, "progress": done, "steps": {"ended": ended, "opened": opened}}


async def listed(state: DashboardState) -> list[dict[str, Any]]:
    """The newest workflows with their progress, shared by every tab for a second."""
    flows = await _flows(state)

    async def read() -> list[dict[str, Any]]:
        return [{**s, "progress": progress(s["status"], s["stage"], s["stages"])}
                for s in await flows.list(limit=LISTED)]  # fmt: skip

    found: list[dict[str, Any]] = await state.cache.get("workflows", 1.0, read)
    return found


async def one(state: DashboardState, workflow_id: str) -> dict[str, Any]:
    flows = await _flows(state)

    async def read() -> dict[str, Any]:
        return counted(await flows.show(workflow_id))

    found: dict[str, Any] = await state.cache.get(f"workflow:{workflow_id}", 1.0, read)
    return found


@router.get("/workflows")
async def workflows(request: Request, who: Reader) -> Response:
    found = await listed(state_of(request))
    return page(request, "workflows.html", view="workflows", live="workflows", flows=found)


@router.get("/workflows/{workflow_id}")
async def workflow(request: Request, workflow_id: str, who: Reader) -> Response:
    tree = await one(state_of(request), workflow_id)
    live = "" if tree["status"] in ENDED else f"workflow:{workflow_id}"
    return page(request, "workflow.html", view="workflows", live=live, flow=tree)


@router.post("/workflows/{workflow_id}/{action}")
async def control(request: Request, workflow_id: str, action: str, who: Operator) -> Response:
    """Pause (no step starts; running ones finish), resume (every due step starts,
    none twice) or cancel (its waiting jobs are cancelled) the whole workflow."""
    if action not in ACTIONS:
        raise ConfigurationError(f"unknown workflow action {action!r}: {', '.join(ACTIONS)}")
    state = state_of(request)
    before, after = await getattr(await _flows(state), action)(workflow_id)
    await audit(request, who, f"workflows.{action}", target=workflow_id,
                count=int(before != after), detail={"before": before, "after": after})  # fmt: skip
    state.cache.forget("workflow")  # the list and the tree show the change
    return back(request, f"/workflows/{workflow_id}")


@live_view("workflows")
async def live_workflows(state: DashboardState, tick: Tick, _: str) -> Fragments:
    found = await listed(state)
    return {"workflow-list": render_fragment(state.base, "_workflows.html", flows=found)}


@live_view("workflow")
async def live_workflow(state: DashboardState, tick: Tick, workflow_id: str) -> Fragments | None:
    try:
        tree = await one(state, workflow_id)
    except JobNotFound:
        return None
    return {"workflow-tree": render_fragment(state.base, "_workflow_tree.html", flow=tree)}
