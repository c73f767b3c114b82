"""Bearer tokens: none or a bad one is 401 with WWW-Authenticate; a role below the
route's is 403 naming the role; a revoked token stops working at once."""

from __future__ import annotations

import httpx

from chronoq import App
from tests.api.conftest import Tokens, assert_problem


async def test_no_token_is_401_with_a_challenge(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/jobs")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_malformed_or_unknown_token_is_401(http: httpx.AsyncClient) -> None:
    for token in ("nonsense", "cq_" + "0" * 12 + "_" + "0" * 48):
        response = await http.get("/v1/jobs", headers={"Authorization": f"Bearer {token}"})
        body = assert_problem(response, 401)
        assert "unknown, revoked or malformed" in body["detail"]
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_read_token_reads_but_may_not_operate(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    assert (await http.get("/v1/queues", headers=tokens.header("read"))).status_code == 200
    response = await http.post(
        "/v1/jobs", json={"task": "send", "args": ["a@b.c"]}, headers=tokens.header("read")
    )
    body = assert_problem(response, 403)
    assert "needs the operate role" in body["detail"] and body["needed_role"] == "operate"


async def test_an_operator_may_not_delete(http: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await http.delete("/v1/jobs/whatever", headers=tokens.header("operate"))
    assert "needs the admin role" in assert_problem(response, 403)["detail"]


async def test_a_revoked_token_is_401(http: httpx.AsyncClient, app: App, tokens: Tokens) -> None:
    headers = tokens.header("admin")
    assert (await http.get("/v1/queues", headers=headers)).status_code == 200
    async with app.backend() as backend:
        assert await backend.access.revoke("admin")
    assert_problem(await http.get("/v1/queues", headers=headers), 401)


async def test_probes_need_no_token(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    assert (await http.get("/readyz")).json() == {"status": "ready"}
