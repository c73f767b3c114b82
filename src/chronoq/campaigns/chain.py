"""A campaign run as a workflow (pure): which stages, in which order, and which
campaign step each stage shows the progress of.

A `once` step is one workflow Step of the user's task (its result is what the
next step gets: a search returns the recipients). An `each` step is two stages:
the enroll Step (`chronoq.campaigns.enroll`: the recipients new to the campaign,
capped at max_recipients, each given its planned send time) then a FanOut of the
step's task over them, each branch due at its `send_at`. The step's `after` delay
sits on its enroll stage, so the plan starts when the delay ends. A later `each`
step fans out over the recipients the previous fan-out sent to ("carry").
"""

from __future__ import annotations

from dataclasses import dataclass

from chronoq.campaigns.model import CampaignSpec
from chronoq.workflows.model import Chain, FanOut, Step

ENROLL_TASK = "chronoq.campaigns.enroll"
RUN_TASK = "chronoq.campaigns.run"
SEND_AT = "send_at"  # the recipient field holding its planned send time (epoch ms)


@dataclass(frozen=True, slots=True)
class StageRole:
    """What one workflow stage is to the campaign: the step it belongs to and its
    role ('once': the step's one job; 'enroll'; 'each': the per-recipient jobs)."""

    step: str
    role: str


def layout(spec: CampaignSpec) -> list[StageRole]:
    """The stages a run of `spec` has, in order."""
    roles: list[StageRole] = []
    for step in spec.steps:
        if step.each:
            roles += [StageRole(step.name, "enroll"), StageRole(step.name, "each")]
        else:
            roles.append(StageRole(step.name, "once"))
    return roles


def workflow_id(name: str, run: int) -> str:
    return f"cmp-{name}-{run}"


def build_chain(spec: CampaignSpec, run: int) -> Chain:
    """The workflow of run `run` of the campaign."""
    stages: list[Step | FanOut] = []
    fanned = False  # a fan-out precedes: the next each-step carries its recipients
    for index, step in enumerate(spec.steps):
        if not step.each:
            stages.append(Step(step.task, after=step.after, **step.kwargs))
            fanned = False
            continue
        source = "carry" if fanned else ("spec" if index == 0 else "found")
        where = {"campaign": spec.name, "run": run, "step": step.name}
        stages.append(Step(ENROLL_TASK, after=step.after, source=source, **where))
        stages.append(FanOut(step.task, None, (), {**where, **step.kwargs}, at=SEND_AT))
        fanned = True
    return Chain(stages, name=f"campaign {spec.name} run {run}", windows=spec.pacing.windows,
                 zone=spec.timezone, priority=spec.priority or None)  # fmt: skip
