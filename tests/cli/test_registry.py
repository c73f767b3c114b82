"""`chronoq enqueue` and `schedules trigger` without `--app` use the definition the
task's workers registered: its lock and quota hold; unknown names are refused."""

from __future__ import annotations

import asyncio

from chronoq import App, JobStatus
from chronoq.schedule.model import ScheduleDef
from chronoq.worker import Worker, WorkerOptions
from tests.cli.helpers import Cli, Result
from tests.worker.helpers import running_worker, wait_until


async def run(cli: Cli, *args: str) -> Result:
    """The command line, from an async test: it runs its own event loop, in a thread."""
    return await asyncio.to_thread(cli, *args)


def campaigns(redis_url: str, prefix: str, runs: list[int]) -> App:
    app = App("campaigns", redis_url=redis_url, prefix=prefix)
    app.quota("emails", 1, per="day")

    @app.task(name="campaign.step", lock="campaign:{campaign_id}", account="{account}",
              quota="emails")  # fmt: skip
    async def step(account: str, campaign_id: int) -> None:
        runs.append(campaign_id)
        await asyncio.sleep(0.5)  # the second trigger arrives while this one runs

    return app


async def test_two_triggers_of_one_campaign_keep_its_lock_and_quota(
    cli: Cli, redis_url: str, prefix: str
) -> None:
    runs: list[int] = []
    app = campaigns(redis_url, prefix, runs)
    async with app.backend() as backend:
        store = backend.schedules
        await store.add(ScheduleDef("outreach", "campaign.step", "0 0 1 1 *", args=["acme", 1]))
    async with running_worker(app, scheduler=False) as worker, app.client() as client:
        await wait_until(lambda: _true(worker.state == "serving"))  # its tasks are published
        made = [
            (await run(cli, "schedules", "trigger", "outreach", "--json")).json() for _ in range(2)
        ]

        async def settled() -> bool:
            jobs = [await client.job(m["id"]) for m in made]
            return {j.status for j in jobs} == {JobStatus.SUCCEEDED, JobStatus.SCHEDULED}

        await wait_until(settled, timeout=15)
    assert runs == [1]  # one run; the other is booked into the next day: the quota held
    shown = (await run(cli, "job", made[1]["id"], "--json")).json()
    assert shown["schedule"] == "outreach" and shown["account"] == "acme"
    assert [g["key"] for g in shown["gates"]] == ["campaign:1"]


async def _true(value: bool) -> bool:
    return value


async def test_enqueue_by_name_uses_the_registered_lock(
    cli: Cli, redis_url: str, prefix: str
) -> None:
    app = campaigns(redis_url, prefix, [])
    await Worker(app, WorkerOptions(burst=True, scheduler=False)).run()  # publishes, then ends
    made = (await run(cli, "enqueue", "campaign.step", "--args", '["acme", 3]', "--json")).json()
    shown = (await run(cli, "job", made["id"], "--json")).json()
    assert [g["key"] for g in shown["gates"]] == ["campaign:3"] and shown["account"] == "acme"
    bad = await run(cli, "enqueue", "campaign.step", "--args", '["acme"]')
    assert bad.code == 2 and "cannot call task 'campaign.step'" in bad.err


def test_an_unknown_task_is_refused_in_one_line_unless_forced(cli: Cli) -> None:
    refused = cli("enqueue", "nope.task", "--args", "[1]")
    assert refused.code == 2 and refused.out == ""
    (line,) = refused.err.splitlines()
    assert line.startswith("chronoq: error: unknown task 'nope.task'") and "--force" in line
    forced = cli("enqueue", "nope.task", "--args", "[1]", "--force", "--json").json()
    assert forced["status"] == "queued"
    assert cli("schedules", "add", "p", "--task", "nope.task", "--spec", "@daily").code == 0
    assert cli("schedules", "trigger", "p").code == 2
    triggered = cli("schedules", "trigger", "p", "--force", "--json").json()
    shown = cli("job", triggered["id"], "--json").json()
    assert shown["schedule"] == "p" and shown["schedule_due"] is None
    assert "schedule" in cli("job", triggered["id"]).out
