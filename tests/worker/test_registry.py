"""Schedulers and the task registry: a schedule whose task no running app defines is
not fired but reported (and fires once its app runs again); schedules an app stopped
declaring are retired, runtime ones kept; jobs record the schedule that made them."""

from __future__ import annotations

import asyncio

from chronoq import App
from chronoq.redis.schedules import ScheduleStore
from chronoq.schedule.model import ScheduleDef
from chronoq.worker import Worker, WorkerOptions
from chronoq.worker.scheduling import retire_undeclared
from tests.worker.helpers import running_worker, wait_until
from tests.worker.test_scheduler import schedulers


def mailer(redis_url: str, prefix: str, *schedules: str) -> App:
    app = App("mailer", redis_url=redis_url, prefix=prefix)

    @app.task(name="mail.tick", queue="mail")
    async def tick() -> None: ...

    for name in schedules:
        app.schedule(name, "@every 1s", tick)
    return app


async def names(store: ScheduleStore) -> set[str]:
    return {info.definition.name for info in await store.all()}


async def test_a_schedule_whose_app_is_gone_is_reported_not_fired_until_it_returns(
    redis_url: str, prefix: str
) -> None:
    gone = mailer(redis_url, prefix)
    await Worker(gone, WorkerOptions(queues="mail", burst=True, scheduler=False)).run()
    other = App("other", redis_url=redis_url, prefix=prefix)  # defines no task
    async with other.backend() as backend:
        store = backend.schedules
        await store.add(ScheduleDef("orphan", "mail.tick", "* * * * * *"))
    reports: list[tuple[str, str]] = []
    async with schedulers(other, on_error=lambda n, e: reports.append((n, str(e)))) as (loop,):
        await asyncio.sleep(2.5)  # two runs were due
        async with other.client() as client:
            assert await client.queues() == []  # nothing enqueued: its jobs would be dead
        assert reports[0][0] == "orphan" and "no running app defines" in reports[0][1]
        assert len(reports) == 1  # once, not every second
        async with running_worker(mailer(redis_url, prefix), queues="mail", scheduler=False):
            await wait_until(lambda: fired(loop), timeout=10)  # the other app's loop fires it
        async with other.client() as client:
            jobs = await client.jobs(queue="mail", limit=100)
    # Left due meanwhile: the runs missed within the grace period are merely late.
    assert jobs and {job.schedule for job in jobs} == {"orphan"}
    dues = [job.schedule_due for job in jobs]
    assert None not in dues and len(set(dues)) == len(jobs)
    assert jobs[0].to_dict()["schedule"] == "orphan"


async def fired(loop: object) -> bool:
    return bool(getattr(loop, "fired", 0))


async def test_declared_schedules_no_longer_declared_are_retired_runtime_ones_kept(
    redis_url: str, prefix: str
) -> None:
    v1 = mailer(redis_url, prefix, "old", "kept", "changed")
    async with running_worker(v1, queues="mail"):
        async with v1.backend() as backend:
            store = backend.schedules
            await wait_until(lambda: has(store, {"old", "kept", "changed"}), timeout=10)
            await store.add(ScheduleDef("runtime", "mail.tick", "@every 1h"))
            await store.update("changed", spec="@every 2s")  # an operator's change
        v2 = mailer(redis_url, prefix, "kept")  # a rolling deploy: v1 still runs
        async with v2.backend() as backend:
            assert await retire_undeclared(v2, backend.schedules, backend.registry) == []
    async with running_worker(v2, queues="mail"), v2.backend() as backend:  # v1 is gone now
        store = backend.schedules
        await wait_until(lambda: lacks(store, "old"), timeout=10)
        assert await names(store) == {"kept", "changed", "runtime"}


async def has(store: ScheduleStore, wanted: set[str]) -> bool:
    return wanted <= await names(store)


async def lacks(store: ScheduleStore, name: str) -> bool:
    return name not in await names(store)
