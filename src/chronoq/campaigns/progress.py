"""Progress per campaign step, read from a run's workflow (pure: the workflow as
loaded in, the numbers out)."""

from __future__ import annotations

from typing import Any

from chronoq.campaigns.chain import StageRole
from chronoq.campaigns.model import StepProgress, from_ms
from chronoq.core import serialization
from chronoq.redis.workflows import StoredWorkflow

WAITING = ("pending", "released", "enqueued")


def progress(roles: list[StageRole], w: StoredWorkflow | None) -> list[StepProgress]:
    """Each step's jobs by outcome: a once step's one job, an each step's fan-out
    branches (its enroll stage is bookkeeping, not shown)."""
    by_stage: dict[int, list[dict[str, Any]]] = {}
    for node in w.nodes.values() if w is not None else ():
        by_stage.setdefault(int(node["stage"]), []).append(node)
    steps: dict[str, StepProgress] = {}
    for index, role in enumerate(roles):
        shown = steps.setdefault(role.step, StepProgress(name=role.step))
        for node in by_stage.get(index, ()):
            if role.role != "enroll":
                _count(shown, node)
            elif node["state"] in WAITING:
                _sooner(shown, node)  # the step's sends start after its enrolment
    return list(steps.values())


def _sooner(shown: StepProgress, node: dict[str, Any]) -> None:
    due = from_ms(node.get("due"))
    if due is not None and (shown.next_at is None or due < shown.next_at):
        shown.next_at = due


def _count(shown: StepProgress, node: dict[str, Any]) -> None:
    shown.total += 1
    state = node["state"]
    if state in WAITING:
        shown.pending += 1
        _sooner(shown, node)
    elif state == "succeeded":
        result = node.get("result")
        outcome = serialization.loads(result) if result else None
        if isinstance(outcome, dict) and outcome.get("status") == "skipped":
            shown.skipped += 1
        else:
            shown.sent += 1
    elif state == "cancelled":
        shown.skipped += 1
    else:
        shown.failed += 1
