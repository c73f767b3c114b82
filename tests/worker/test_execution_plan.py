"""A claimed job's run plan: each effective option in the RunPlan field of its name
(plan builds it positionally, for speed), the job's own options over the task's."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from chronoq import App
from chronoq.core.claims import ClaimedJob
from chronoq.core.job import LimitRef
from chronoq.core.retry import Backoff
from chronoq.worker.execution import Outcome, RunPlan, plan


def make_job(options: dict[str, object] | None, max_retries: int | None) -> ClaimedJob:
    text = json.dumps(options) if options is not None else None
    return ClaimedJob("id1", "default", "t", '[[1, 2], {"k": 3}]', 1, max_retries, text, "tok")


def named(run: RunPlan | Outcome) -> dict[str, Any]:
    """Field name -> value (a RunPlan compares by identity)."""
    assert isinstance(run, RunPlan), run
    return {f.name: getattr(run, f.name) for f in fields(run)}


def test_each_effective_option_is_in_its_field() -> None:
    app = App("plan")
    backoff = Backoff(base=2.0, maximum=60.0)

    @app.task(name="t", max_retries=7, backoff=backoff, timeout=30.0, soft_timeout=10.0)
    async def t(a: int, b: int, k: int) -> None:
        return None

    task = app.registry.get("t")
    found = plan(make_job(None, None), app.registry)
    assert named(found) == named(
        RunPlan(
            task=task,
            args=[1, 2],
            kwargs={"k": 3},
            timeout=30.0,
            backoff=backoff,
            max_retries=7,
            limits=(),
            retry_delays=None,
            soft_timeout=10.0,
        )
    )
    options = {"timeout": 5, "limits": [["api", "acct1"]], "delays": [1, 4]}
    found = plan(make_job(options, 2), app.registry)
    assert not isinstance(found, Outcome)
    assert (found.timeout, found.max_retries, found.limits, found.retry_delays) == (
        5,
        2,
        (LimitRef("api", "acct1"),),
        (1.0, 4.0),
    )
    assert found.soft_timeout is None  # the job's own shorter timeout wins over it
    assert found.backoff == backoff
