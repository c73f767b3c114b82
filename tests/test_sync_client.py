"""The sync facade, from plain threads (as a sync web app or script would use it)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import redis

from chronoq import App, JobStatus
from chronoq.client import JobRequest


def test_sync_client_enqueues_and_reads(app: App) -> None:
    with app.sync_client() as client:
        job = client.submit(JobRequest("report", (1,), kwargs={"kind": "daily"}, force=True))
        assert job.status is JobStatus.QUEUED and job.created
        record = client.job(job.id)
        assert record.args == [1] and record.kwargs == {"kind": "daily"}
        jobs = client.enqueue_many(
            JobRequest("report", [i], queue="bulk", force=True) for i in range(100)
        )
        assert len({j.id for j in jobs}) == 100
        counts = {c.queue: c for c in client.queues()}
        assert counts["bulk"].waiting == 100 and counts["default"].waiting == 1
        client.cancel(job.id)
        assert client.job(job.id).status is JobStatus.CANCELLED


def test_sync_unique_key_from_many_threads(app: App) -> None:
    with app.sync_client() as client, ThreadPoolExecutor(8) as pool:
        futures = [
            pool.submit(client.submit, JobRequest("t", [i], unique_key="only-one", force=True))
            for i in range(20)
        ]
        results = [f.result() for f in futures]
    assert len({r.id for r in results}) == 1


def test_sync_enqueue_survives_a_dropped_connection(app: App, raw: redis.Redis) -> None:
    with app.sync_client() as client:
        client.submit(JobRequest("t", force=True))
        wire = client._enqueuer._wire
        assert wire is not None
        conn = wire.conn
        assert conn is not None
        conn.send_command("CLIENT", "ID")  # type: ignore[no-untyped-call]
        raw.client_kill_filter(_id=conn.read_response())  # the server drops it
        job = client.submit(JobRequest("t", force=True))
        assert client.job(job.id).status.value == "queued"
