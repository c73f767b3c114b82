"""Jobs: enqueue by name (validated by the registry), list with the history filters
and a cursor, one job with its attempts, cancel, retry, delete."""

from __future__ import annotations

import httpx
import redis

from chronoq import App, Client
from tests.api.conftest import Tokens, assert_problem
from tests.observe.history import run_jobs


def keys(raw: redis.Redis, prefix: str) -> set[str]:
    """The keys of the prefix but the tokens' and their request meter's (which each
    request touches and which expire about a second after it)."""
    skip = (":{~access}:", ":{lim:chronoq-api}:")
    return {k for k in raw.scan_iter(match=f"{prefix}:*") if not any(s in k for s in skip)}


async def test_enqueue_by_task_name_with_its_defaults(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    response = await http.post(
        "/v1/jobs",
        json={"task": "send", "args": ["a@b.c"], "kwargs": {"subject": "hi"}},
        headers=tokens.header("operate"),
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["queue"] == "mail" and made["status"] == "queued" and made["created"]
    assert response.headers["location"] == f"/v1/jobs/{made['id']}"
    async with app.client() as c:
        job = await c.job(made["id"])
    assert job.args == ["a@b.c"] and job.kwargs == {"subject": "hi"} and job.max_retries == 2
    async with app.backend() as backend:
        (entry, *_) = await backend.access.audit()
    assert (entry.actor, entry.action, entry.target) == ("operate", "jobs.enqueue", made["id"])


async def test_bad_enqueues_are_problems_naming_the_field_and_write_nothing(
    http: httpx.AsyncClient, tokens: Tokens, raw: redis.Redis, prefix: str
) -> None:
    headers = tokens.header("operate")
    await http.get("/v1/tasks", headers=headers)  # the request meter's limit is stored now
    before = keys(raw, prefix)
    unknown = await http.post("/v1/jobs", json={"task": "nope"}, headers=headers)
    assert "unknown task 'nope'" in assert_problem(unknown, 422, field="body.task")["detail"]
    typo = await http.post("/v1/jobs", json={"task": "send", "argz": []}, headers=headers)
    assert_problem(typo, 422, field="body.argz")
    naive = await http.post(
        "/v1/jobs", json={"task": "send", "args": ["x"], "at": "2030-01-01T09:00:00"},
        headers=headers,
    )  # fmt: skip
    assert_problem(naive, 422, field="body.at")
    bad_call = await http.post(
        "/v1/jobs", json={"task": "send", "args": [1, 2, 3]}, headers=headers
    )
    assert "cannot call task 'send'" in assert_problem(bad_call, 422)["detail"]
    assert keys(raw, prefix) == before


async def test_an_unknown_task_is_enqueued_with_force(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    response = await http.post(
        "/v1/jobs", json={"task": "elsewhere", "force": True}, headers=tokens.header("operate")
    )
    assert response.status_code == 201 and response.json()["queue"] == "default"


async def test_get_a_job_with_its_attempts_and_an_etag(
    http: httpx.AsyncClient, tokens: Tokens, client: Client
) -> None:
    (job_id,) = await run_jobs(client, "flaky", 1, error=ValueError("bad input 0"))
    response = await http.get(f"/v1/jobs/{job_id}", headers=tokens.header("read"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "dead" and body["timeline"][0]["outcome"] == "dead"
    assert body["timeline"][0]["error_class"] == "ValueError"
    assert response.headers["etag"].startswith('"')
    missing = await http.get("/v1/jobs/nope", headers=tokens.header("read"))
    assert "no job with id 'nope'" in assert_problem(missing, 404)["detail"]


async def test_search_the_history_in_pages(
    http: httpx.AsyncClient, tokens: Tokens, client: Client
) -> None:
    await run_jobs(client, "flaky", 5, error=ValueError("boom"))
    await run_jobs(client, "send", 3)
    headers = tokens.header("read")
    page = (await http.get("/v1/jobs?status=dead&limit=3", headers=headers)).json()
    assert len(page["jobs"]) == 3 and page["next_cursor"]
    rest = await http.get(
        "/v1/jobs", params={"status": "dead", "limit": 3, "cursor": page["next_cursor"]},
        headers=headers,
    )  # fmt: skip
    ids = {j["id"] for j in page["jobs"]} | {j["id"] for j in rest.json()["jobs"]}
    assert len(ids) == 5
    found = await http.get("/v1/jobs?task=send&since=1h", headers=headers)
    assert [j["status"] for j in found.json()["jobs"]] == ["succeeded"] * 3
    assert_problem(
        await http.get("/v1/jobs?status=bogus", headers=headers), 422, field="query.status"
    )
    assert_problem(
        await http.get("/v1/jobs?since=2030-01-01T00:00:00", headers=headers), 422,
        field="query.since",
    )  # fmt: skip
    wrong = await http.get(
        "/v1/jobs", params={"status": "succeeded", "cursor": page["next_cursor"]}, headers=headers
    )
    assert_problem(wrong, 422, field="query.cursor")
    grammar = await http.get(
        "/v1/jobs", params={"filter": "status:dead -task:send error:boom"}, headers=headers
    )
    assert len(grammar.json()["jobs"]) == 5
    negated = await http.get("/v1/jobs", params={"filter": "-task:flaky"}, headers=headers)
    assert {j["task"] for j in negated.json()["jobs"]} == {"send"}
    twice = await http.get("/v1/jobs", params={"filter": "task:a", "task": "b"}, headers=headers)
    assert "given twice" in assert_problem(twice, 422, field="query.filter")["detail"]
    unclosed = await http.get("/v1/jobs", params={"filter": 'error:"x'}, headers=headers)
    assert_problem(unclosed, 422, field="query.filter")
    garbage = await http.get("/v1/jobs?cursor=zzz", headers=headers)
    assert_problem(garbage, 422, field="query.cursor")


async def test_waiting_jobs_are_listed_by_status(http: httpx.AsyncClient, tokens: Tokens) -> None:
    headers = tokens.header("operate")
    await http.post("/v1/jobs", json={"task": "send", "args": ["x"]}, headers=headers)
    page = (await http.get("/v1/jobs?status=queued", headers=headers)).json()
    assert [j["task"] for j in page["jobs"]] == ["send"] and page["next_cursor"] is None
    mixed = await http.get("/v1/jobs?status=queued&task=send", headers=headers)
    assert_problem(mixed, 422, field="query.status")


async def test_cancel_retry_and_delete(
    http: httpx.AsyncClient, tokens: Tokens, client: Client
) -> None:
    operate, admin = tokens.header("operate"), tokens.header("admin")
    made = (
        await http.post("/v1/jobs", json={"task": "send", "args": ["x"]}, headers=operate)
    ).json()
    cancelled = await http.post(f"/v1/jobs/{made['id']}/cancel", headers=operate)
    assert cancelled.json() == {"id": made["id"], "status": "cancelled"}
    again = await http.post(f"/v1/jobs/{made['id']}/retry", headers=operate)
    assert again.json() == {"id": made["id"], "status": "queued", "previous": "cancelled"}
    waiting = await http.post(f"/v1/jobs/{made['id']}/retry", headers=operate)
    assert "only a finished job can be retried" in assert_problem(waiting, 409)["detail"]
    not_yet = await http.delete(f"/v1/jobs/{made['id']}", headers=admin)
    assert "is queued" in assert_problem(not_yet, 409)["detail"]
    assert (await client.job(made["id"])).status.value == "queued"

    dead, other = await run_jobs(client, "flaky", 2, error=ValueError("x"))
    finished = await http.post(f"/v1/jobs/{dead}/cancel", headers=operate)
    assert "cannot be cancelled" in assert_problem(finished, 409)["detail"]
    retried = await http.post(f"/v1/jobs/{dead}/retry", headers=operate)
    assert retried.json()["status"] == "queued"
    assert (await client.job(dead)).status.value == "queued"

    seen = await http.get(f"/v1/jobs/{other}", headers=admin)
    stale = await http.delete(f"/v1/jobs/{other}", headers={**admin, "If-Match": '"stale"'})
    assert_problem(stale, 412)
    deleted = await http.delete(
        f"/v1/jobs/{other}", headers={**admin, "If-Match": seen.headers["etag"]}
    )
    assert deleted.json() == {"id": other, "status": "deleted", "previous": "dead"}
    assert_problem(await http.get(f"/v1/jobs/{other}", headers=admin), 404)
    (succeeded,) = await run_jobs(client, "send", 1, queue="mail")
    retried_ok = await http.post(f"/v1/jobs/{succeeded}/retry", headers=operate)
    assert retried_ok.json()["previous"] == "succeeded"
    async with client.backend as backend:
        entries = await backend.access.audit()
    assert [e.action for e in entries][:5] == [
        "jobs.retry", "jobs.delete", "jobs.retry", "jobs.retry", "jobs.cancel"]  # fmt: skip
    assert entries[0].detail["previous"] == "succeeded" and entries[0].actor == "operate"
