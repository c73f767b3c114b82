"""The observe read models on a real Redis Cluster: health, the metrics snapshot
(TIME and INFO cannot ride a Cluster pipeline), search and a job's timeline."""

from __future__ import annotations

from chronoq import App, Client, JobStatus
from chronoq.observe.health import check_health
from chronoq.observe.jobs import job_history
from chronoq.observe.search import JobFilter, JobSearch
from tests.worker.helpers import running_worker, wait_until


async def test_health_metrics_search_and_timeline_on_a_cluster(
    cluster_app: App, cluster_client: Client
) -> None:
    @cluster_app.task(name="ok", queue="mail")
    async def ok() -> None: ...

    jobs = [await cluster_client.enqueue(ok) for _ in range(3)]

    async def done() -> bool:
        found = [await cluster_client.job(j.id) for j in jobs]
        return all(j.status is JobStatus.SUCCEEDED for j in found)

    async with running_worker(cluster_app, queues="mail", scheduler=False):
        await wait_until(done, timeout=20)
        async with cluster_app.backend() as backend:
            report = await check_health(backend)
            snapshot = await backend.snapshots.read()
            page = await JobSearch(backend).search(JobFilter(task="ok", status=JobStatus.SUCCEEDED))
            timeline = await job_history(backend.inspector, jobs[0].id)
    checks = {c.name: c for c in report.checks}
    assert checks["redis"].level.name == "OK" and checks["queues"].level.name == "OK"
    assert snapshot.server_ms is not None and snapshot.info["memory"]  # read apart, per primary
    (mail,) = [q for q in snapshot.queues if q.name == "mail"]
    assert mail.counters["succeeded"] == 3
    assert sorted(j.id for j in page.jobs) == sorted(j.id for j in jobs)
    assert timeline.to_dict()["timeline"][-1]["outcome"] == "succeeded"
