"""Job event hooks (`app.on`, `task.on`) and the worker's log line per outcome."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from chronoq import App, Backoff, Client, EventKind, JobEvent, JobStatus
from chronoq.client import JobRequest
from chronoq.core.errors import ConfigurationError
from chronoq.worker import Worker, WorkerOptions
from tests.worker.helpers import running_worker, wait_until

FAST = Backoff(base=0.02, maximum=0.02, jitter=0)


async def finished(client: Client, job_id: str) -> bool:
    return (await client.job(job_id)).status.is_finished


def record_all(app: App, seen: list[tuple[str, str, JobEvent]], who: str = "app") -> None:
    for kind in EventKind:
        app.on_event(kind, lambda event, w=who: seen.append((w, event.kind.value, event)))


async def test_hooks_run_in_order_task_first_and_a_raising_hook_changes_nothing(
    app: App, client: Client
) -> None:
    seen: list[tuple[str, str, JobEvent]] = []
    threads: list[str] = []

    @app.task(max_retries=1, backoff=FAST)
    async def flaky(n: int) -> int:
        if n == 0:
            raise ValueError("bad n\nsecond line")
        return n * 2

    @flaky.on("succeeded")
    async def task_hook(event: JobEvent) -> None:
        seen.append(("task", event.kind.value, event))

    @flaky.on("dead")
    def task_dead(event: JobEvent) -> None:
        threads.append(threading.current_thread().name)
        seen.append(("task", event.kind.value, event))

    @app.on(EventKind.SUCCEEDED)
    def broken(event: JobEvent) -> None:
        raise RuntimeError("hook bug")

    record_all(app, seen)
    ok = await client.enqueue(flaky, 21)
    bad = await client.enqueue(flaky, 0)
    async with running_worker(app):
        assert await client.result(ok.id, timeout=10) == 42
        await wait_until(lambda: finished(client, bad.id))
        await wait_until(lambda: _has(seen, bad.id, "dead", 2), timeout=5)
        await wait_until(lambda: _has(seen, ok.id, "succeeded", 2), timeout=5)
    assert (await client.job(ok.id)).status is JobStatus.SUCCEEDED  # the raising hook
    of_ok = [(who, kind) for who, kind, e in seen if e.job_id == ok.id]
    assert of_ok == [("app", "enqueued"), ("app", "started"), ("task", "succeeded"),
                     ("app", "succeeded")]  # fmt: skip
    of_bad = [(who, kind) for who, kind, e in seen if e.job_id == bad.id]
    assert of_bad == [
        ("app", "enqueued"),
        ("app", "started"), ("app", "failed"), ("app", "retrying"),
        ("app", "started"), ("app", "failed"), ("task", "dead"), ("app", "dead"),
    ]  # fmt: skip
    done = next(e for who, kind, e in seen if kind == "succeeded" and who == "task")
    assert (done.result, done.attempt, done.max_attempts, done.queue) == (42, 1, 2, "default")
    assert done.duration is not None and done.duration >= 0 and done.outcome == "succeeded"
    dead = next(e for who, kind, e in seen if kind == "dead" and who == "app")
    assert dead.error == "ValueError: bad n\nsecond line" and dead.attempt == 2
    assert dead.traceback is not None and "bad n" in dead.traceback
    retry = next(e for _, kind, e in seen if kind == "retrying")
    assert retry.retry_in == pytest.approx(0.02) and retry.outcome == "retrying"
    assert threads and threads[0].startswith("chronoq-task")  # sync hooks: the thread pool


async def _has(seen: list[tuple[str, str, JobEvent]], job_id: str, kind: str, n: int) -> bool:
    return sum(1 for _, k, e in seen if e.job_id == job_id and k == kind) >= n


async def test_enqueued_and_cancelled_fire_in_the_client(app: App, client: Client) -> None:
    seen: list[JobEvent] = []

    @app.task
    async def later() -> None: ...

    @later.on("enqueued")
    async def on_enqueued(event: JobEvent) -> None:
        seen.append(event)

    app.on_event("cancelled", seen.append)
    async with app.client() as own:
        job = await own.submit(JobRequest(later, delay=60, unique_key="only-one"))
        again = await own.submit(JobRequest(later, delay=60, unique_key="only-one"))
        assert not again.created
        await own.cancel(job.id)
    assert [(e.kind, e.job_id, e.task) for e in seen] == [
        (EventKind.ENQUEUED, job.id, later.name),
        (EventKind.CANCELLED, job.id, later.name),
    ]
    assert seen[0].outcome == "scheduled"
    with app.sync_client() as sync:
        made = sync.enqueue(later)
    assert seen[-1].kind is EventKind.ENQUEUED and seen[-1].job_id == made.id


async def test_an_expired_job_fires_expired_and_logs_it(
    app: App, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[JobEvent] = []
    app.on_event("expired", seen.append)

    @app.task
    async def noop() -> None: ...

    past = datetime.now(UTC) - timedelta(seconds=5)
    job = await client.submit(JobRequest(noop, deadline=past))
    with caplog.at_level(logging.INFO, logger="chronoq.jobs"):
        async with running_worker(app):
            await wait_until(lambda: _async(bool(seen)))
    assert (seen[0].job_id, seen[0].task, seen[0].outcome) == (job.id, noop.name, "expired")
    (line,) = [r for r in caplog.records if getattr(r, "event", None) == "expired"]
    assert line.levelno == logging.INFO and line.job_id == job.id  # type: ignore[attr-defined]


async def _async(value: bool) -> bool:
    return value


async def test_each_outcome_is_logged_with_its_fields(
    app: App, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task(max_retries=2, backoff=FAST)
    def always_fails() -> None:
        raise KeyError("missing thing")

    @app.task
    async def fine() -> str:
        return "ok"

    bad = await client.enqueue(always_fails)
    good = await client.enqueue(fine)
    with caplog.at_level(logging.INFO, logger="chronoq.jobs"):
        async with running_worker(app):
            await wait_until(lambda: finished(client, bad.id))
            await wait_until(lambda: finished(client, good.id))
            await asyncio.sleep(0.05)
    lines = [r for r in caplog.records if r.name == "chronoq.jobs"]
    failed = [r for r in lines if getattr(r, "event", None) == "failed"]
    assert [r.levelno for r in failed] == [logging.WARNING] * 3  # every failed attempt
    assert [r.attempt for r in failed] == [1, 2, 3]  # type: ignore[attr-defined]
    for record in failed:
        assert record.job_id == bad.id and record.task == always_fails.name  # type: ignore[attr-defined]
        assert "KeyError: 'missing thing'" in record.getMessage()
        assert record.error == "KeyError: 'missing thing'"  # type: ignore[attr-defined]
    assert "retrying in 0.02s" in failed[0].getMessage()
    (dead,) = [r for r in lines if getattr(r, "event", None) == "dead"]
    assert dead.levelno == logging.ERROR and "Traceback" in dead.getMessage()
    assert "raise KeyError" in dead.getMessage()
    (ok,) = [r for r in lines if getattr(r, "event", None) == "succeeded"]
    assert ok.levelno == logging.INFO and ok.job_id == good.id  # type: ignore[attr-defined]
    assert ok.duration_ms is not None and ok.queue == "default"  # type: ignore[attr-defined]
    assert f"job {good.id} {fine.name} succeeded in" in ok.getMessage()


async def test_a_job_that_cannot_run_is_logged_dead(
    app: App, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[JobEvent] = []
    app.on_event("dead", seen.append)
    job = await client.submit(JobRequest("no.such.task", force=True))
    with caplog.at_level(logging.INFO, logger="chronoq.jobs"):
        await Worker(app, WorkerOptions(burst=True)).run()
        await wait_until(lambda: _async(bool(seen)))
    assert seen[0].job_id == job.id and "unknown task" in (seen[0].error or "")
    (dead,) = [r for r in caplog.records if getattr(r, "event", None) == "dead"]
    assert dead.levelno == logging.ERROR and "unknown task 'no.such.task'" in dead.getMessage()


def test_an_unknown_event_kind_is_refused(app: App) -> None:
    with pytest.raises(ConfigurationError, match="unknown job event 'finished'"):
        app.on("finished")
    with pytest.raises(ConfigurationError, match="unknown job event"):
        app.on_event("done", print)
