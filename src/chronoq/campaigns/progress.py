"""Progress per campaign step, read from a run's workflow (pure: the workflow and
the campaign's recorded deferrals as loaded in, the numbers out).

A step job deferred at its grant (a window closed, a cap full, the campaign
paused) waits in the queue with its own run time; its workflow node still shows
the planned `due`. The grant records the deferral on the campaign
(`CampaignStore.defer`), and a waiting branch's next send is the later of the two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chronoq.campaigns.chain import StageRole
from chronoq.campaigns.model import StepProgress, from_ms
from chronoq.core import serialization
from chronoq.redis.workflows import StoredWorkflow

WAITING = ("pending", "released", "enqueued")
FAILURES_SHOWN = 20  # failed branches listed with their error, per step


def progress(
    roles: list[StageRole],
    w: StoredWorkflow | None,
    deferrals: dict[str, dict[str, Any]] | None = None,
) -> list[StepProgress]:
    """Each step's jobs by outcome: a once step's one job, an each step's fan-out
    branches (its enroll stage is bookkeeping, not shown). `deferrals`:
    "<step>|<email>" -> {until, reason}, as the store records them."""
    by_stage: dict[int, list[dict[str, Any]]] = {}
    for node in w.nodes.values() if w is not None else ():
        by_stage.setdefault(int(node["stage"]), []).append(node)
    steps: dict[str, StepProgress] = {}
    for index, role in enumerate(roles):
        shown = steps.setdefault(role.step, StepProgress(name=role.step))
        for node in by_stage.get(index, ()):
            if role.role == "each":
                _count(shown, node, _deferral(role.step, node, deferrals or {}))
            elif role.role == "once":
                _count(shown, node, None)
            elif node["state"] in WAITING:
                _sooner(shown, from_ms(node.get("due")))  # its sends start after enrolment
    return list(steps.values())


def _email(node: dict[str, Any]) -> str:
    args, _ = serialization.loads(node["call"])
    item = args[0] if args else None
    email = item.get("email") if isinstance(item, dict) else None
    return email.strip().lower() if isinstance(email, str) else ""


def _deferral(step: str, node: dict[str, Any], deferrals: dict[str, dict[str, Any]]) -> int:
    """The recorded deferral (ms) of a waiting branch, 0 when none."""
    if node["state"] not in WAITING or not deferrals:
        return 0
    found = deferrals.get(f"{step}|{_email(node)}")
    return int(found.get("until") or 0) if isinstance(found, dict) else 0


def _sooner(shown: StepProgress, due: datetime | None) -> None:
    if due is not None and (shown.next_at is None or due < shown.next_at):
        shown.next_at = due


def _count(shown: StepProgress, node: dict[str, Any], deferred_ms: int | None) -> None:
    """Count one job. `deferred_ms`: its recorded deferral (0: none) for a branch
    of an `each` step; None for a `once` step's job (no recipient: its failure is
    listed under its task's name)."""
    shown.total += 1
    state = node["state"]
    if state in WAITING:
        shown.pending += 1
        due = int(node.get("due") or 0)
        if deferred_ms:
            shown.deferred += 1
        _sooner(shown, from_ms(max(due, deferred_ms or 0)))
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
        if len(shown.failures) < FAILURES_SHOWN:
            who = _email(node) if deferred_ms is not None else node.get("task", "")
            shown.failures[who or str(node.get("job", ""))] = str(node.get("error") or state)
