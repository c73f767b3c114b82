"""Outages waited out and logged once, permanent faults raised, stops honoured, and
worker loops that fail either restarted or failing the worker: never silent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
import redis

from chronoq import App, JobStatus
from chronoq.redis.connection import connect
from chronoq.redis.errors import RedisError, RedisUnusable
from chronoq.worker import Worker, WorkerFailed, WorkerOptions
from chronoq.worker.resilience import Outages, Stopped
from tests.fault.helpers import free_port
from tests.redis.private_servers import PrivateServer, new_server, private_servers
from tests.worker.helpers import running_worker, wait_until


@pytest.fixture
def servers() -> Iterator[list[PrivateServer]]:
    with private_servers() as started:
        yield started


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


async def test_an_outage_is_waited_out_and_logged_once(
    servers: list[PrivateServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = new_server(servers)
    server.kill()  # down at first: connections refused
    outages = Outages(server.label)
    client = connect(server.url)
    try:

        async def come_back() -> None:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(server.start)

        returning = asyncio.create_task(come_back())
        with caplog.at_level(logging.DEBUG, logger="chronoq.worker"):
            pings = await asyncio.gather(
                outages.persist(client.ping, "pinging"),
                outages.persist(lambda: client.set("k", "v"), "writing"),
            )
        await returning
    finally:
        await client.aclose()
    assert pings == [True, True]
    warnings = records(caplog, logging.WARNING)
    assert len(warnings) == 1, warnings  # two operations, many retries: one line
    assert warnings[0].startswith(f"chronoq: cannot reach Redis at {server.label}: Connection")
    infos = records(caplog, logging.INFO)
    assert len(infos) == 1 and f"Redis at {server.label} answers again after" in infos[0]
    assert not outages.down


async def test_a_permanent_fault_is_raised_at_once(servers: list[PrivateServer]) -> None:
    server = new_server(servers, password="right")
    client = connect(f"redis://:wrong@{server.label}/0")
    try:
        with pytest.raises(RedisUnusable) as raised:
            await asyncio.wait_for(Outages(server.label).persist(client.ping, "pinging"), 5)
    finally:
        await client.aclose()
    assert str(raised.value) == (
        f"Redis at {server.label} refused the username or password (WRONGPASS)"
    )
    assert isinstance(raised.value.__cause__, RedisError)


async def test_a_stop_ends_the_wait_for_an_unreachable_server() -> None:
    label = f"127.0.0.1:{free_port()}"
    client = connect(f"redis://{label}/0")
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.5, stop.set)
    started = asyncio.get_running_loop().time()
    try:
        with pytest.raises(Stopped):
            await Outages(label).persist(client.ping, "pinging", stop=stop)
    finally:
        await client.aclose()
    assert asyncio.get_running_loop().time() - started < 5


async def test_other_errors_pass_through_unlogged(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = connect(redis_url)
    try:
        await client.set(f"{prefix}:text", "abc")
        with caplog.at_level(logging.WARNING), pytest.raises(redis.ResponseError, match="WRONG"):
            await Outages("test").persist(lambda: client.lpush(f"{prefix}:text", "x"), "pushing")
    finally:
        await client.aclose()
    assert not records(caplog, logging.WARNING)


async def test_a_failing_fetch_loop_fails_the_worker(
    app: App, raw: redis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """It used to be swallowed: the worker exited as if stopped, status 0."""
    raw.set(f"{prefix}:{{default}}:ready", "not a sorted set")  # the claim script fails
    worker = Worker(app, WorkerOptions(idle_wait=0.2))
    with pytest.raises(WorkerFailed, match="the worker's fetch loop failed: ResponseError"):
        await asyncio.wait_for(worker.run(), 20)
    assert "Traceback" in caplog.text and "the fetch loop failed" in caplog.text
    assert raw.zcard(f"{prefix}:{{~}}:workers") == 0  # it unregistered: not idle, gone


async def test_a_failing_heartbeat_loop_restarts_and_the_worker_keeps_working(
    app: App, raw: redis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    workers_key = f"{prefix}:{{~}}:workers"
    raw.set(workers_key, "not a sorted set")  # every heartbeat fails
    done: list[int] = []

    @app.task
    async def note(n: int) -> None:
        done.append(n)

    async with app.client() as client, running_worker(app, heartbeat=0.1) as worker:

        async def restarted() -> bool:
            return "restarting the heartbeat loop" in caplog.text

        await wait_until(restarted, timeout=10)
        raw.delete(workers_key)

        async def registered() -> bool:
            return raw.zscore(workers_key, worker.id) is not None

        await wait_until(registered, timeout=15)
        job = await client.enqueue(note, 1)

        async def finished() -> bool:
            return (await client.job(job.id)).status is JobStatus.SUCCEEDED

        await wait_until(finished, timeout=10)
    assert done == [1]
    assert "Traceback" in caplog.text  # the failure was logged with its traceback
