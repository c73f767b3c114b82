"""What a real scheduler loop counts into the operations rollups: each fired run's
lateness from its due time to its enqueue, the runs a misfire policy dropped, the
runs overlap=skip skipped; runs another loop made are not counted twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chronoq import App
from chronoq.observe.ops import OpsWindow, ScheduleOps, ops_window
from chronoq.schedule.model import Misfire, Overlap, ScheduleDef
from tests.worker.test_scheduler import schedulers, stored_as_if_down


@pytest.fixture(autouse=True)
def task_t(app: App) -> None:
    @app.task(name="t")
    def t(*args: Any, **kwargs: Any) -> None: ...


async def read(app: App) -> OpsWindow:
    async with app.backend() as backend:
        return await ops_window(backend, hours=1)


def by_name(ops: OpsWindow) -> dict[str, ScheduleOps]:
    return {s.schedule: s for s in ops.schedules}


async def test_two_loops_count_each_run_once_with_its_lateness(app: App) -> None:
    async with app.backend() as backend:
        await backend.schedules.add(ScheduleDef("tick", "t", "@every 1s"))
    async with schedulers(app, count=2) as loops:
        await asyncio.sleep(2.4)
    made = sum(loop.fired for loop in loops)
    tick = by_name(await read(app))["tick"]
    assert made >= 2 and tick.fired == made  # once each, though two loops fired them
    late = tick.enqueue_lateness
    assert late.count == made
    assert late.p99 is not None and late.p99 <= 0.25  # on time: well under a second


async def test_runs_caught_up_after_downtime_are_as_late_as_they_were(app: App) -> None:
    async with app.backend() as backend:  # down for 4 s, within the grace: all fire late
        d = ScheduleDef("late", "t", "@every 1s", misfire=Misfire.ALL, grace=3600)
        await stored_as_if_down(backend.schedules, d, down=4)
    async with schedulers(app) as (loop,):
        await loop.tick()
    late = by_name(await read(app))["late"]
    assert late.fired >= 4 and late.missed == 0
    assert late.enqueue_lateness.p99 is not None and late.enqueue_lateness.p99 >= 2.5
    assert late.enqueue_lateness.mean is not None and 1.0 <= late.enqueue_lateness.mean <= 5


async def test_missed_runs_per_misfire_policy(app: App) -> None:
    async with app.backend() as backend:
        for policy in Misfire:  # daily runs, down for ten days
            d = ScheduleDef(policy.value, "t", "@daily", misfire=policy, grace=1,
                            queue=policy.value)  # fmt: skip
            await stored_as_if_down(backend.schedules, d, down=10 * 86400)
    async with schedulers(app) as (loop,):
        await loop.tick()
    found = by_name(await read(app))
    counted = {name: (s.fired, s.missed) for name, s in found.items()}
    assert counted == {"skip": (0, 10), "once": (1, 9), "all": (10, 0)}


async def test_overlap_skip_counts_the_runs_it_skipped(app: App) -> None:
    async with app.backend() as backend:
        await backend.schedules.add(ScheduleDef("solo", "t", "@every 1s", overlap=Overlap.SKIP))
    async with schedulers(app):  # no worker: the first run's job stays unfinished
        await asyncio.sleep(2.5)
    solo = by_name(await read(app))["solo"]
    assert solo.fired == 1 and solo.skipped >= 1
