"""Dead letters: list and groups, requeue (with an edited payload), resolve, purge."""

from __future__ import annotations

import httpx

from chronoq import Client
from tests.api.conftest import Tokens, assert_problem
from tests.observe.history import run_jobs


async def test_list_groups_requeue_with_an_edited_payload_resolve_and_purge(
    http: httpx.AsyncClient, tokens: Tokens, client: Client
) -> None:
    ids = await run_jobs(client, "flaky", 3, error=ValueError("bad input 7"))
    read, operate, admin = (tokens.header(r) for r in ("read", "operate", "admin"))
    page = (await http.get("/v1/dead?task=flaky", headers=read)).json()
    assert {j["id"] for j in page["jobs"]} == set(ids)
    (group,) = (await http.get("/v1/dead/groups", headers=read)).json()
    assert group["task"] == "flaky" and group["dead"] == 3
    by_group = await http.get(
        "/v1/dead", params={"error_group": group["fingerprint"]}, headers=read
    )
    assert len(by_group.json()["jobs"]) == 3
    assert_problem(await http.get("/v1/dead?error_group=xyz", headers=read), 422,
                   field="query.error_group")  # fmt: skip

    first, second, third = ids
    bad = await http.post(f"/v1/dead/{first}/requeue", json={"args": [1, 2]}, headers=operate)
    assert "cannot call task 'flaky'" in assert_problem(bad, 422)["detail"]
    assert (await client.job(first)).status.value == "dead"  # nothing written
    edited = await http.post(f"/v1/dead/{first}/requeue", json={"args": [42]}, headers=operate)
    assert edited.json() == {"id": first, "status": "queued"}
    job = await client.job(first)
    assert job.status.value == "queued" and job.args == [42]
    again = await http.post(f"/v1/dead/{first}/requeue", headers=operate)
    assert_problem(again, 409)

    resolved = await http.post(
        f"/v1/dead/{second}/resolve", json={"note": "known"}, headers=operate
    )
    assert resolved.json()["status"] == "resolved"
    assert (await client.job(second)).resolution == "known"
    group_done = await http.post(
        f"/v1/dead/groups/{group['fingerprint']}/resolve", json={}, headers=operate
    )
    assert group_done.status_code == 200

    assert_problem(await http.delete(f"/v1/dead/{third}", headers=operate), 403)
    assert (await http.delete(f"/v1/dead/{third}", headers=admin)).json()["status"] == "purged"
    assert_problem(await http.delete(f"/v1/dead/{third}", headers=admin), 404)
    async with client.backend as backend:
        actions = [e.action for e in await backend.access.audit()]
    assert actions[:4] == ["dead.purge", "dead.resolve_group", "dead.resolve", "dead.requeue"]
