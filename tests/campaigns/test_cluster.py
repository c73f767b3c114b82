"""A campaign on a real Redis Cluster (Redis 7.0 and Valkey): its scripts on its
`{cmp:<name>}` slot, the account's grant on `{cmpa:<account>}`, its run's workflow
and jobs on theirs, and the recipient index on one slot per recipient."""

from __future__ import annotations

from typing import Any

from chronoq import App
from chronoq.campaigns import CampaignContext, CampaignState, campaign_step, campaigns, install
from chronoq.core import serialization
from tests.campaigns.helpers import ended, run_now
from tests.worker.cluster_helpers import BOTH_BINARIES
from tests.worker.helpers import running_worker


@BOTH_BINARIES
async def test_a_campaign_runs_on_a_cluster_and_a_reply_finds_its_campaigns(
    cluster_app: App,
) -> None:
    app = cluster_app
    app.settings.workflow_sweep = 0.05
    install(app)
    sent: list[str] = []

    @campaign_step(app, name="c.email")
    async def email(recipient: dict[str, Any], ctx: CampaignContext) -> str:
        sent.append(ctx.recipient.key)
        return "ok"

    people = [f"p{i}@example.com" for i in range(4)]
    spec = {"name": "first", "account": "acct", "schedule": {"every": "1h"}, "max_runs": 1,
            "steps": [{"name": "email", "task": "c.email", "each": True}],
            "recipients": [{"email": p} for p in people]}  # fmt: skip
    async with campaigns(app) as c, running_worker(app, concurrency=4):
        await c.create(spec)
        await c.create({**spec, "name": "second"}, draft=True)
        rows = [(p, serialization.dumps({"email": p})) for p in people[:2]]
        await c.store.enroll("second", rows, max_recipients=None)
        await run_now(c, "first")
        view = await ended(c, "first")
        index = await c.store.campaigns_of(people[1])
        await c.record_stop(None, people[1].upper(), "bounce")
        stops = [await c.store.stop_of(n, people[1]) for n in ("first", "second")]
        suppressed = await c.suppressed(people[1])
    assert sorted(sent) == people
    assert view.state is CampaignState.COMPLETED and view.steps[0].sent == 4
    assert index == ["first", "second"]
    assert stops == ["bounce", "bounce"] and suppressed == "bounce"
