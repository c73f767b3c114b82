"""GET /v1/workflows and /v1/workflows/{id}: the tree `chronoq workflows show` prints."""

from __future__ import annotations

import httpx

from chronoq import App, Chain, Step, fan_out
from tests.api.conftest import Tokens, assert_problem


async def test_a_reader_lists_workflows_and_reads_one_as_a_tree(
    app: App, http: httpx.AsyncClient, tokens: Tokens
) -> None:
    chain = Chain([Step("send", "a@example.com"), fan_out("send", ["b", "c"])], name="api")
    async with app.workflows() as flows:
        wf_id = await flows.start(chain)
        expected = await flows.show(wf_id)
    listed = await http.get("/v1/workflows", headers=tokens.header("read"))
    assert listed.status_code == 200
    assert [(w["id"], w["name"], w["status"]) for w in listed.json()["workflows"]] == [
        (wf_id, "api", "running")
    ]
    one = await http.get(f"/v1/workflows/{wf_id}", headers=tokens.header("read"))
    assert one.status_code == 200 and one.json() == expected
    first = one.json()["stages"][0]["nodes"][0]
    assert first["state"] == "enqueued" and first["queue"] == "mail"
    assert_problem(await http.get("/v1/workflows/nope", headers=tokens.header("read")), 404)
    assert (await http.get(f"/v1/workflows/{wf_id}")).status_code == 401
