"""Workflows against a real Redis and a real in-process worker: order and results
passing, delays, fan-out and fan-in, pause and resume, cancel, recovery."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from chronoq import App, Chain, ConfigurationError, JobRequest, Step, Window, Workflows, fan_out
from chronoq.workflows.model import business_due_ms
from chronoq.workflows.sweep import Sweeper
from tests.worker.helpers import running_worker, wait_until


def _app(redis_url: str, prefix: str) -> tuple[App, Any]:
    """An app whose tasks log each call to a Redis list (the side effects)."""
    app = App("wf", redis_url=redis_url, prefix=prefix)
    app.settings.workflow_sweep = 0.05
    log = redis.Redis.from_url(redis_url, decode_responses=True)
    calls = f"{prefix}:calls"

    @app.task(name="wf.add", max_retries=0)
    def add(x: int, y: int = 1) -> int:
        log.rpush(calls, f"add:{x}:{time.time():.3f}")
        return x + y

    @app.task(name="wf.double", max_retries=0)
    def double(x: int) -> int:
        log.rpush(calls, f"double:{x}:{time.time():.3f}")
        return x * 2

    @app.task(name="wf.explode", max_retries=0)
    def explode(x: int) -> int:
        log.rpush(calls, f"explode:{x}:{time.time():.3f}")
        if x == 3:
            raise ValueError("three is bad")
        return x * 10

    @app.task(name="wf.total", max_retries=0)
    def total(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
        log.rpush(calls, f"total:{len(outcomes)}:{time.time():.3f}")
        ok = [o["result"] for o in outcomes if o["status"] == "succeeded"]
        return {"sum": sum(ok), "dead": [o["item"] for o in outcomes if o["status"] == "dead"]}

    @app.task(name="wf.split", max_retries=0)
    def split(n: int) -> list[int]:
        return list(range(n))

    return app, log


def _calls(log: Any, prefix: str) -> list[str]:
    return [c.rsplit(":", 1)[0] for c in log.lrange(f"{prefix}:calls", 0, -1)]


async def _ended(w: Workflows, wf_id: str, timeout: float = 15.0) -> dict[str, Any]:
    async def done() -> bool:
        return (await w.show(wf_id))["status"] in ("completed", "failed", "cancelled")

    await wait_until(done, timeout=timeout, interval=0.02)
    return await w.show(wf_id)


async def test_a_chain_runs_in_order_each_step_getting_the_previous_result(
    redis_url: str, prefix: str
) -> None:
    app, log = _app(redis_url, prefix)
    chain = Chain([Step("wf.add", 1, y=2), Step("wf.double"), Step("wf.add", y=10)], name="c")
    async with app.workflows() as w, running_worker(app, concurrency=2):
        wf_id = await w.start(chain)
        tree = await _ended(w, wf_id)
    assert tree["status"] == "completed", tree
    assert _calls(log, prefix) == ["add:1", "double:3", "add:6"]
    results = [s["nodes"][0]["result"] for s in tree["stages"]]
    assert results == [3, 6, 16]
    nodes = [s["nodes"][0] for s in tree["stages"]]
    assert all(n["state"] == "succeeded" and n["job"] for n in nodes)
    async with app.client() as client:
        job = await client.job(tree["stages"][1]["nodes"][0]["job"])
    assert job.workflow == f"{wf_id}/1"
    log.close()


async def test_a_delay_holds_the_next_step_that_long(redis_url: str, prefix: str) -> None:
    app, log = _app(redis_url, prefix)
    chain = Chain([Step("wf.add", 1), Step("wf.double", after="1.5s")])
    async with app.workflows() as w, running_worker(app):
        wf_id = await w.start(chain)

        async def second_pending() -> bool:
            nodes = (await w.show(wf_id))["stages"][1]["nodes"]
            return bool(nodes) and nodes[0]["state"] == "pending"

        await wait_until(second_pending, timeout=10)
        tree = await _ended(w, wf_id)
    stamps = [float(c.rsplit(":", 1)[1]) for c in log.lrange(f"{prefix}:calls", 0, -1)]
    assert tree["status"] == "completed"
    assert stamps[1] - stamps[0] >= 1.4, stamps
    log.close()


async def _has_value(log: Any, prefix: str, n: int) -> bool:
    return bool(log.llen(f"{prefix}:calls") >= n)


def _has(log: Any, prefix: str, n: int) -> Any:
    return _has_value(log, prefix, n)


async def test_a_business_day_delay_dates_the_next_step_at_its_window(
    redis_url: str, prefix: str
) -> None:
    app, log = _app(redis_url, prefix)
    windows = ["mon-fri 09:00-17:00", "sat 10:00-12:00"]
    chain = Chain([Step("wf.add", 1), Step("wf.double", after="2 business days")],
                  windows=windows, zone="Asia/Kolkata")  # fmt: skip
    async with app.workflows() as w, running_worker(app):
        wf_id = await w.start(chain)

        async def second_pending() -> bool:
            nodes = (await w.show(wf_id))["stages"][1]["nodes"]
            return bool(nodes) and nodes[0]["state"] == "pending"

        await wait_until(second_pending, timeout=10)
        w_ = await w.store.load(wf_id)
        assert w_ is not None
    first, second = w_.nodes["0"], w_.nodes["1"]
    parsed = tuple(Window.parse(x) for x in windows)
    kolkata = ZoneInfo("Asia/Kolkata")
    assert second["due"] == business_due_ms(first["finished"], 2, parsed, kolkata)
    assert second["due"] > first["finished"] + 86_400_000
    assert json.loads(second["call"]) == [[2], {}]  # the first step's result
    assert _calls(log, prefix) == ["add:1"]
    log.close()


async def test_a_fan_out_runs_one_job_per_item_and_the_fan_in_sees_every_branch(
    redis_url: str, prefix: str
) -> None:
    app, log = _app(redis_url, prefix)
    chain = Chain([Step("wf.split", 5), fan_out("wf.explode"), Step("wf.total")])
    async with app.workflows() as w, running_worker(app, concurrency=4):
        wf_id = await w.start(chain)
        tree = await _ended(w, wf_id)
    assert tree["status"] == "completed", tree
    branches = tree["stages"][1]["nodes"]
    assert [b["item"] for b in branches] == [0, 1, 2, 3, 4]
    assert [b["state"] for b in branches] == ["succeeded"] * 3 + ["dead", "succeeded"]
    assert "three is bad" in branches[3]["error"]
    assert tree["stages"][2]["nodes"][0]["result"] == {"sum": 0 + 10 + 20 + 40, "dead": [3]}
    assert sorted(_calls(log, prefix)) == sorted([f"explode:{i}" for i in range(5)] + ["total:5"])
    log.close()


async def test_a_dead_step_fails_the_workflow_and_nothing_after_runs(
    redis_url: str, prefix: str
) -> None:
    app, log = _app(redis_url, prefix)
    async with app.workflows() as w, running_worker(app):
        wf_id = await w.start(Chain([Step("wf.explode", 3), Step("wf.double")]))
        tree = await _ended(w, wf_id)
    assert tree["status"] == "failed"
    assert "three is bad" in tree["error"]
    assert tree["stages"][1]["nodes"] == []
    assert _calls(log, prefix) == ["explode:3"]
    log.close()


async def test_pause_starts_nothing_and_resume_continues_exactly(
    redis_url: str, prefix: str
) -> None:
    app, log = _app(redis_url, prefix)
    chain = Chain([fan_out("wf.double", list(range(20)), after="1s"), Step("wf.total")])
    async with app.workflows() as w, running_worker(app, concurrency=4):
        wf_id = await w.start(chain)
        assert await w.pause(wf_id) == ("running", "paused")
        await asyncio.sleep(1.6)  # past the delay: still nothing starts
        assert _calls(log, prefix) == []
        assert (await w.show(wf_id))["status"] == "paused"
        assert await w.resume(wf_id) == ("paused", "running")
        tree = await _ended(w, wf_id)
    assert tree["status"] == "completed"
    calls = _calls(log, prefix)
    assert sorted(calls) == sorted([f"double:{i}" for i in range(20)] + ["total:20"])
    log.close()


async def test_a_pause_between_stages_holds_the_next_stage(redis_url: str, prefix: str) -> None:
    app, log = _app(redis_url, prefix)
    chain = Chain([Step("wf.add", 1), Step("wf.double", after="0.8s"), Step("wf.double")])
    async with app.workflows() as w, running_worker(app):
        wf_id = await w.start(chain)
        await wait_until(lambda: _has(log, prefix, 1))
        await w.pause(wf_id)
        await asyncio.sleep(1.5)
        assert _calls(log, prefix) == ["add:1"]
        await w.resume(wf_id)
        tree = await _ended(w, wf_id)
    assert tree["status"] == "completed"
    assert _calls(log, prefix) == ["add:1", "double:2", "double:4"]
    log.close()


async def test_cancel_ends_the_workflow_and_its_waiting_jobs(redis_url: str, prefix: str) -> None:
    app, log = _app(redis_url, prefix)
    chain = Chain([fan_out("wf.double", [1, 2, 3]), Step("wf.total")])
    async with app.workflows() as w:
        wf_id = await w.start(chain)  # no worker yet: the branches wait in the queue
        assert await w.cancel(wf_id) == ("running", "cancelled")
        tree = await w.show(wf_id)
        assert tree["status"] == "cancelled"
        assert [n["state"] for n in tree["stages"][0]["nodes"]] == ["cancelled"] * 3
        async with running_worker(app):
            await asyncio.sleep(0.5)
    assert _calls(log, prefix) == []
    log.close()


async def test_a_step_ended_while_nobody_advanced_is_found_by_the_sweep(
    redis_url: str, prefix: str
) -> None:
    """A step's job is recorded as done by the queue alone (as when a worker dies
    right after recording it, before advancing its workflow): a sweep finds the
    step ended and moves the workflow on, once, however many sweeps race."""
    app, log = _app(redis_url, prefix)
    async with app.workflows() as w, app.client() as client:
        wf_id = await w.start(Chain([Step("wf.add", 1), Step("wf.double")]))
        claim = await client.broker.claim(
            "default", 1, lease_ms=30_000, token="t", worker_id="gone", retention_ms=60_000
        )
        (job,) = claim.jobs
        assert job.options is not None and f"{wf_id}/0" in job.options
        await client.broker.complete(
            "default", [(job.id, job.token, "41")], retention_ms=60_000, result_ttl_ms=60_000
        )
        assert (await w.show(wf_id))["stages"][0]["nodes"][0]["state"] == "enqueued"
        sweepers = [Sweeper(w, interval=1) for _ in range(3)]
        await w.store.attend_at(wf_id, 0)
        claimed = await asyncio.gather(*(s.sweep_once() for s in sweepers))
        assert sorted(claimed) == [0, 0, 1]  # the lease: one sweeper takes it
        await asyncio.gather(*(w.settle(wf_id) for _ in range(3)))  # racing settles
        tree = await w.show(wf_id)
        assert tree["stages"][0]["nodes"][0]["state"] == "succeeded"
        assert tree["stages"][0]["nodes"][0]["result"] == 41
        (second,) = tree["stages"][1]["nodes"]
        assert second["state"] == "enqueued"
        waiting = await client.job(second["job"])
        assert waiting.args == [41]
        counts = await client.queues()
        assert sum(q.waiting for q in counts) == 1  # one job for the next step, not three
    log.close()


def test_bad_workflows_are_refused_with_the_reason() -> None:
    with pytest.raises(ConfigurationError, match="at least one step"):
        Chain([]).to_wire()
    with pytest.raises(ConfigurationError, match="bad duration"):
        Chain([Step("t", after="soon")]).to_wire()
    with pytest.raises(ConfigurationError, match="bad window"):
        Chain([Step("t")], windows=["weekdays"]).to_wire()
    with pytest.raises(ConfigurationError, match="needs its items"):
        Chain([fan_out("t")]).to_wire()


async def test_a_crash_between_release_and_enqueue_is_mended_once(
    redis_url: str, prefix: str
) -> None:
    """An advancer released the next step and enqueued its job, then died before
    recording the job id: the next settle enqueues again under the same key and
    records the very job made, so the step has one job."""
    app, log = _app(redis_url, prefix)
    async with app.workflows() as w, app.client() as client:
        wf_id = await w.start(Chain([Step("wf.add", 1), Step("wf.double", after="0.2s")]))
        claim = await client.broker.claim(
            "default", 1, lease_ms=30_000, token="t", worker_id="gone", retention_ms=60_000
        )
        await client.broker.complete(
            "default", [(claim.jobs[0].id, "t", "2")], retention_ms=60_000, result_ttl_ms=60_000
        )
        await w.settle(wf_id)  # opens stage 1, pending for 0.2 s
        await asyncio.sleep(0.25)
        _, _, released = await w.store.release(wf_id, ["1"])  # the advancer that dies...
        assert list(released) == ["1"]
        orphan = await client.submit(  # ...after enqueueing the job, as _enqueue does
            JobRequest("wf.double", [2], idempotency_key=f"wf:{wf_id}:1", workflow=f"{wf_id}/1")
        )
        assert (await w.show(wf_id))["stages"][1]["nodes"][0]["state"] == "released"
        await asyncio.gather(w.settle(wf_id), w.settle(wf_id))
        (node,) = (await w.show(wf_id))["stages"][1]["nodes"]
        assert node["state"] == "enqueued" and node["job"] == orphan.id
        assert sum(q.waiting for q in await client.queues()) == 1
    log.close()


async def test_a_workflow_cancelled_while_a_step_is_released_runs_nothing_more(
    redis_url: str, prefix: str
) -> None:
    app, log = _app(redis_url, prefix)
    async with app.workflows() as w:
        wf_id = await w.start(Chain([Step("wf.add", 1, after="0.1s")]))
        await asyncio.sleep(0.15)
        _, _, released = await w.store.release(wf_id, ["0"])
        assert list(released) == ["0"]
        await w.store.control(wf_id, "cancel")  # the cancel lands before the enqueue
        loaded = await w.store.load(wf_id)
        assert loaded is not None
        await w._enqueue(loaded, released)  # the advancer that released it goes on
        (node,) = (await w.show(wf_id))["stages"][0]["nodes"]
        assert node["state"] == "cancelled"
        async with running_worker(app):
            await asyncio.sleep(0.3)
    assert _calls(log, prefix) == []
    log.close()


async def test_a_delayed_step_due_while_no_worker_ran_starts_with_the_next_worker(
    redis_url: str, prefix: str
) -> None:
    """Everything is in Redis: a worker stops with the next step pending, the step
    falls due meanwhile, and a worker started later (a restart) sweeps it up."""
    app, log = _app(redis_url, prefix)
    async with app.workflows() as w:
        wf_id = await w.start(Chain([Step("wf.add", 1), Step("wf.double", after="0.5s")]))
        async with running_worker(app):

            async def second_pending() -> bool:
                nodes = (await w.show(wf_id))["stages"][1]["nodes"]
                return bool(nodes) and nodes[0]["state"] == "pending"

            await wait_until(second_pending)
        await asyncio.sleep(1.0)  # due now, with nobody running
        assert _calls(log, prefix) == ["add:1"]
        async with running_worker(app):
            tree = await _ended(w, wf_id)
    assert tree["status"] == "completed"
    assert _calls(log, prefix) == ["add:1", "double:2"]
    log.close()
