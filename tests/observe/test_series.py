"""Metrics as chart points: whole-bucket steps from 1 hour to 90 days, counts that
add up to the window's."""

from __future__ import annotations

from chronoq import App
from chronoq.core.rollups import DAY_MS, HOUR_MS, MINUTE_MS
from chronoq.observe.rollups import window
from chronoq.observe.series import series, step_for
from tests.worker.helpers import running_worker, wait_until


def test_steps_are_whole_buckets() -> None:
    assert step_for(1) == MINUTE_MS
    assert step_for(24) == HOUR_MS
    assert step_for(2160) == DAY_MS


async def test_points_add_up_to_the_window(app: App) -> None:
    @app.task(name="a")
    def a(n: int) -> int:
        return n

    @app.task(name="b", max_retries=0)
    def b(n: int) -> None:
        raise ValueError(f"bad {n}")

    async with app.client() as client:
        async with running_worker(app):
            made = [await client.enqueue(a, i) for i in range(3)]
            made += [await client.enqueue(b, i) for i in range(2)]

            async def finished() -> bool:
                return all([(await client.job(j.id)).status.is_finished for j in made])

            await wait_until(finished, timeout=20)
        for hours in (1, 24, 2160):
            points = await series(client.backend, hours)
            total = await window(client.backend, hours)
            assert len(points.points) == round(hours * HOUR_MS / step_for(hours))
            assert sum(points.values("succeeded")) == total.counts["succeeded"] == 3
            assert sum(points.values("dead")) == total.counts["dead"]
            assert sum(points.values("started")) == 5
        only_a = await series(client.backend, 1, task="a")
        assert sum(only_a.values("started")) == 3
