from chronoq import App, Client, JobStatus
from tests.worker.helpers import running_worker


async def test_async_and_sync_tasks_run_and_store_results(app: App, client: Client) -> None:
    @app.task
    async def add(a: int, b: int) -> int:
        return a + b

    @app.task(name="mul")
    def mul(a: int, b: int) -> int:
        return a * b

    j1 = await client.enqueue(add, 2, 3)
    j2 = await client.enqueue("mul", 4, b=5)
    assert j1.status is JobStatus.QUEUED
    async with running_worker(app, concurrency=4):
        assert await client.result(j1.id, timeout=5) == 5
        assert await client.result(j2.id, timeout=5) == 20
    job = await client.job(j2.id)
    assert job.status is JobStatus.SUCCEEDED
    assert job.attempts == 1
    assert job.kwargs == {"b": 5}
    assert job.duration is not None and job.duration >= 0
