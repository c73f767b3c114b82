"""`chronoq health`: exit 0 ok, 1 warning, 2 critical, and its --json report."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from chronoq import App, JobRequest
from chronoq.cli.main import main
from tests.cli.helpers import Result
from tests.redis.private_servers import PrivateServer, new_server, private_servers
from tests.worker.helpers import running_worker, wait_until

CHECKS = ["redis", "memory", "eviction", "persistence", "queues", "schedulers", "clock", "alerts"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def servers() -> Iterator[list[PrivateServer]]:
    with private_servers() as started:
        yield started


async def health(capsys: pytest.CaptureFixture[str], url: str, prefix: str) -> Result:
    """`chronoq health --json` in a thread (it runs its own event loop)."""
    capsys.readouterr()
    args = ["health", "--json", "--redis-url", url, "--prefix", prefix]
    code = await asyncio.to_thread(main, args)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in report["checks"]}


async def test_all_good_is_exit_0_with_every_check_in_the_json(
    servers: list[PrivateServer], prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that keeps what it is told (AOF, noeviction), a worker on the queue
    with waiting jobs and its scheduler loop alive: nothing to report."""
    server = new_server(servers)
    app = App("good", redis_url=server.url, prefix=prefix)
    async with app.client() as client:
        await client.submit(JobRequest("later", queue="mail", delay=3600, force=True))
        async with running_worker(app, queues="mail", heartbeat=0.2):
            await wait_until(lambda: _loops_alive(client.backend.snapshots, 1))
            result = await health(capsys, server.url, prefix)
    assert result.code == 0, result.out
    report = json.loads(result.out)
    assert set(report) == {"status", "exit_code", "checked_at", "checks"}
    assert (report["status"], report["exit_code"]) == ("ok", 0)
    assert [c["name"] for c in report["checks"]] == CHECKS
    for check in report["checks"]:
        assert set(check) == {"name", "status", "message", "details"}
        assert check["status"] == "ok", check
    checks = by_name(report)
    assert checks["redis"]["details"]["latency_ms"] >= 0
    assert checks["queues"]["details"]["queues"] == [
        {"queue": "mail", "waiting": 0, "scheduled": 1, "running": 0, "workers": 1, "paused": False}
    ]
    assert len(checks["schedulers"]["details"]["alive"]) == 1
    skews = checks["clock"]["details"]["skew_seconds"]
    assert len(skews) == 3  # this process, the worker, its scheduler loop
    assert all(abs(s) < 1 for s in skews.values()), skews
    assert checks["alerts"]["message"] == "no alert is firing"


async def _loops_alive(reader: Any, n: int) -> bool:
    snapshot = await reader.read()
    return sum(b.alive for b in snapshot.schedulers) == n and any(w.alive for w in snapshot.workers)


async def test_an_evicting_server_is_critical(
    servers: list[PrivateServer], prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """allkeys-lru may delete queue and lease keys: critical (exit 2), not a warning."""
    server = new_server(servers, "--maxmemory-policy", "allkeys-lru")
    result = await health(capsys, server.url, prefix)
    assert result.code == 2
    report = json.loads(result.out)
    assert (report["status"], report["exit_code"]) == ("critical", 2)
    eviction = by_name(report)["eviction"]
    assert eviction["status"] == "critical"
    assert "allkeys-lru" in eviction["message"]
    assert [c["name"] for c in report["checks"] if c["status"] != "ok"] == ["eviction"]


async def test_waiting_jobs_without_a_consumer_are_critical(
    app: App, redis_url: str, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with app.client() as client:
        for _ in range(3):
            await client.submit(JobRequest("send", queue="mail", force=True))
        # A worker on another queue is no consumer of this one.
        async with running_worker(app, queues="other", heartbeat=0.2, scheduler=False):
            await wait_until(lambda: _workers_alive(client.backend.snapshots))
            result = await health(capsys, redis_url, prefix)
    assert result.code == 2
    queues = by_name(json.loads(result.out))["queues"]
    assert queues["status"] == "critical"
    assert "no live worker consumes mail (3 waiting)" in queues["message"]


async def _workers_alive(reader: Any) -> bool:
    return any(w.alive for w in (await reader.read()).workers)


SCHEDULER = """
import asyncio, sys
from chronoq import App
from chronoq.worker.scheduling import run_scheduler

async def main():
    app = App("sched", redis_url=sys.argv[1], prefix=sys.argv[2])
    await run_scheduler(app, asyncio.Event(), heartbeat=0.2)

asyncio.run(main())
"""


async def test_a_scheduler_loop_that_died_is_a_warning(
    servers: list[PrivateServer], prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its process killed, a loop cannot withdraw: its heartbeat expires and health
    warns (exit 1), naming it, while the rest is fine."""
    server = new_server(servers)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-c", SCHEDULER, server.url, prefix]
    process = subprocess.Popen(command, env=env)  # noqa: ASYNC220 (starting is quick)
    try:
        admin = server.admin()
        index = f"{prefix}:{{~}}:schedulers"
        await wait_until(lambda: _beating(admin, index), timeout=20)
        [loop_id] = admin.zrange(index, 0, -1)
        alive = await health(capsys, server.url, prefix)
        assert alive.code == 0, alive.out
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    await wait_until(lambda: _expired(admin, f"{prefix}:{{~}}:scheduler:{loop_id}"), timeout=5)
    result = await health(capsys, server.url, prefix)
    assert result.code == 1, result.out
    report = json.loads(result.out)
    assert report["status"] == "warning"
    schedulers = by_name(report)["schedulers"]
    assert schedulers["status"] == "warning"
    assert f"scheduler loop {loop_id} stopped beating" in schedulers["message"]
    assert schedulers["details"]["dead"] == [loop_id]
    assert [c["name"] for c in report["checks"] if c["status"] != "ok"] == ["schedulers"]
    admin.close()


async def _beating(admin: redis.Redis, index: str) -> bool:
    return bool(admin.zcard(index))


async def _expired(admin: redis.Redis, key: str) -> bool:
    return not admin.exists(key)


async def test_a_paused_queue_is_a_warning_not_a_missing_consumer(
    app: App, redis_url: str, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with app.client() as client:
        for _ in range(2):
            await client.submit(JobRequest("send", queue="mail", force=True))
    async with app.queue_admin() as queues:
        await queues.pause("mail", "provider outage")
    result = await health(capsys, redis_url, prefix)
    assert result.code == 1
    check = by_name(json.loads(result.out))["queues"]
    assert check["status"] == "warning" and "paused: mail (2 waiting)" in check["message"]
