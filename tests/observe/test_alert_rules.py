"""The alert rules read beyond the snapshot, with two evaluators: the success rate
from the rollups a real worker wrote, a late schedule, a long run, rate-limit
utilization and quota exhaustion; each fires once and resolves once."""

from __future__ import annotations

import asyncio

from chronoq import App, Client, JobRequest
from chronoq.observe.alerts import AlertEngine
from chronoq.redis.alerts import Transition
from chronoq.worker import Worker, WorkerOptions
from tests.observe.test_alerts import engines, round_of
from tests.worker.helpers import running_worker, wait_until
from tests.worker.test_scheduler import schedulers

__all__ = ["engines"]  # the fixture, shared with test_alerts


def fired(transitions: list[Transition]) -> list[tuple[str, str]]:
    return [(t.action, t.observation.subject) for t in transitions]


async def drain(app: App, queue: str = "mail") -> None:
    options = WorkerOptions(queues=queue, burst=True, scheduler=False, alerts=False)
    await Worker(app, options).run()


async def test_success_rate_reads_the_rollups_a_worker_wrote(
    app: App, client: Client, engines: list[AlertEngine]
) -> None:
    @app.task(queue="mail", name="ok")
    async def ok() -> None:
        return None

    @app.task(queue="mail", name="boom", max_retries=0)
    async def boom() -> None:
        raise ValueError("always")

    app.alert_rule("rate", "success_rate", threshold=0.8, pending=0, min_jobs=4)
    for _ in range(4):
        await client.enqueue("boom")
    await client.enqueue("ok")
    await drain(app)
    first = await round_of(engines, "rate")
    assert fired(first) == [("fire", "mail")]
    assert first[0].observation.value == 0.2  # 1 of 5 attempts, as the rollups count them
    assert await round_of(engines, "rate") == []
    for _ in range(30):
        await client.enqueue("ok")
    await drain(app)
    assert fired(await round_of(engines, "rate")) == [("resolve", "mail")]  # 31 of 35
    assert await round_of(engines, "rate") == []


async def test_a_schedule_no_loop_fires_is_late_until_one_does(
    app: App, engines: list[AlertEngine]
) -> None:
    @app.task(queue="mail", name="tick")
    async def tick() -> None:
        return None

    app.alert_rule("late", "schedule_late", threshold=0.2, pending=0)
    async with app.schedules() as s:
        await s.add("nightly", "@every 1s", "tick")
        await s.add("held", "@every 1s", "tick")
        await s.pause("held")
    assert await round_of(engines, "late") == []  # not due yet
    await asyncio.sleep(1.3)  # due 0.3 s ago or more, and nothing fires it
    assert fired(await round_of(engines, "late")) == [("fire", "nightly")]
    assert await round_of(engines, "late") == []
    async with schedulers(app) as loops:  # a scheduler loop comes back and fires it
        await wait_until(lambda: _fired(loops))
        assert fired(await round_of(engines, "late")) == [("resolve", "nightly")]


async def _fired(loops: list[object]) -> bool:
    return all(loop.fired > 0 for loop in loops)  # type: ignore[attr-defined]


async def test_a_run_far_longer_than_its_task_p95_fires_once(
    app: App, client: Client, engines: list[AlertEngine]
) -> None:
    release = asyncio.Event()

    @app.task(queue="mail", name="report")
    async def report(slow: bool) -> None:
        if slow:
            await release.wait()
        else:
            await asyncio.sleep(0.01)

    app.alert_rule("long", "long_run", threshold=5, min_run=0.3, pending=0)
    for _ in range(5):
        await client.enqueue("report", False)
    await drain(app)  # the rollups: a p95 in (10, 25] ms
    await client.submit(JobRequest("report", [True], queue="mail"))
    async with running_worker(app, queues="mail", scheduler=False, alerts=False):
        await wait_until(lambda: _running(client))
        early = await round_of(engines, "long")
        assert early == []  # 5x the p95 already, but under min_run
        await asyncio.sleep(0.35)
        late = await round_of(engines, "long")
        assert fired(late) == [("fire", "report")]
        assert late[0].observation.value is not None and late[0].observation.value > 5
        assert await round_of(engines, "long") == []
        release.set()
        await wait_until(lambda: _idle(client))
        assert fired(await round_of(engines, "long")) == [("resolve", "report")]


async def _running(client: Client) -> bool:
    return bool(await client.backend.inspector.running(["mail"]))


async def _idle(client: Client) -> bool:
    return not await _running(client)


async def test_rate_limit_utilization_and_quota_exhaustion(
    app: App, client: Client, engines: list[AlertEngine]
) -> None:
    app.limit("api", "2/day", burst=2)
    app.quota("sends", 2, per="day")

    @app.task(queue="mail", name="call", rate_limit="api", rate_key="{key}")
    async def call(key: str) -> None:
        return None

    @app.task(queue="mail", name="send", quota="sends", account="{account}")
    async def send(account: str) -> None:
        return None

    app.alert_rule("busy", "rate_limit_utilization", pending=0)
    app.alert_rule("spent", "quota_exhaustion", pending=0, threshold=1.0)
    await client.enqueue("call", "k1")
    await client.enqueue("send", "a1")
    await client.enqueue("send", "a1")
    await client.enqueue("send", "a2")
    await drain(app)
    # "api": k1 used 1 of 2 (50 %); "sends": a1 used 2 of 2 (at the limit: fires)
    assert by_rule(await round_of(engines, None)) == {"spent": [("fire", "sends")]}
    await client.enqueue("call", "k1")
    await drain(app)
    assert by_rule(await round_of(engines, None)) == {"busy": [("fire", "api")]}  # 2 of 2
    assert await round_of(engines, None) == []
    async with app.limits() as limits:  # raised: 2 of 100 and 2 of 100
        await limits.set("api", "100/day", burst=2)
    async with app.quotas() as quotas:
        await quotas.set("sends", 100, per="day")
    assert by_rule(await round_of(engines, None)) == {
        "busy": [("resolve", "api")],
        "spent": [("resolve", "sends")],
    }
    assert await round_of(engines, None) == []


def by_rule(transitions: list[Transition]) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for t in transitions:
        found.setdefault(t.observation.rule, []).append((t.action, t.observation.subject))
    return found


async def test_a_lost_lock_fires_once_and_resolves_once_its_window_passes(
    app: App, engines: list[AlertEngine]
) -> None:
    app.alert_rule("locks", "lock_lost", pending=0, window=1.0)
    assert await round_of(engines, "locks") == []  # the baseline: nothing lost yet
    lock = app.lock("report:2024-06", ttl=0.15, renew=False)
    await lock.acquire()
    await asyncio.sleep(0.3)  # the lease really runs out
    assert lock.lost
    first = await round_of(engines, "locks")
    assert fired(first) == [("fire", "report")]
    assert first[0].observation.value == 1
    assert await round_of(engines, "locks") == []
    await asyncio.sleep(1.2)  # the loss leaves the 1 s window
    assert fired(await round_of(engines, "locks")) == [("resolve", "report")]
    assert await round_of(engines, "locks") == []
