"""The conventions every route shares: Idempotency-Key replay, the body limit
(413) and JSON only (415), problem bodies for unknown routes and methods, 429
with Retry-After, and the OpenAPI 3.1 document."""

from __future__ import annotations

import httpx
import redis
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from chronoq import App
from chronoq.core.errors import RateLimited
from tests.api.conftest import Tokens, assert_problem


async def test_the_same_key_and_body_replay_the_first_response(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    headers = {**tokens.header("operate"), "Idempotency-Key": "order-17"}
    body = {"task": "send", "args": ["a@b.c"]}
    first = await http.post("/v1/jobs", json=body, headers=headers)
    second = await http.post("/v1/jobs", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == first.headers["location"]
    async with app.client() as c:
        assert len(await c.jobs(queue="mail")) == 1
    other = await http.post("/v1/jobs", json={**body, "args": ["x@y.z"]}, headers=headers)
    assert_problem(other, 422, field="header.Idempotency-Key")
    # Keys belong to their token: another token's same key is a request of its own.
    admin = {**tokens.header("admin"), "Idempotency-Key": "order-17"}
    assert (await http.post("/v1/jobs", json=body, headers=admin)).json()["id"] != first.json()[
        "id"
    ]


async def test_a_failed_request_releases_its_key(
    http: httpx.AsyncClient, tokens: Tokens, raw: redis.Redis, prefix: str
) -> None:
    headers = {**tokens.header("operate"), "Idempotency-Key": "k1"}
    assert_problem(await http.post("/v1/jobs", json={"task": "nope"}, headers=headers), 422)
    assert not list(raw.scan_iter(match=f"{prefix}:*reply*"))
    fixed = await http.post("/v1/jobs", json={"task": "send", "args": ["x"]}, headers=headers)
    assert fixed.status_code == 201
    (key,) = raw.scan_iter(match=f"{prefix}:*reply*")
    assert 23 * 3600 < raw.ttl(key) <= 24 * 3600


async def test_a_body_over_the_limit_is_413_and_not_json_is_415(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    headers = tokens.header("operate")
    big = {"task": "send", "args": ["x" * 70_000]}
    body = assert_problem(await http.post("/v1/jobs", json=big, headers=headers), 413)
    assert body["max_body_bytes"] == 64 * 1024

    async def stream() -> object:  # no Content-Length: counted as it arrives
        for _ in range(80):
            yield b" " * 1024

    chunked = await http.post(
        "/v1/jobs", content=stream(), headers={**headers, "Content-Type": "application/json"}
    )
    assert_problem(chunked, 413)
    form = await http.post("/v1/jobs", content=b"task=send", headers={
        **headers, "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert "must be JSON" in assert_problem(form, 415)["detail"]
    broken = await http.post(
        "/v1/jobs", content=b"{nope", headers={**headers, "Content-Type": "application/json"}
    )
    assert_problem(broken, 400)


async def test_an_app_mounted_in_the_api_keeps_its_form_posts_but_not_the_api(
    api: FastAPI, http: httpx.AsyncClient, tokens: Tokens
) -> None:
    """The dashboard is mounted at / in `create_site` and its forms are not JSON: the
    415 rule is the API's own routes', the size limit holds for both."""

    async def form_echo(scope: Scope, receive: Receive, send: Send) -> None:
        body = (await receive())["body"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    api.mount("/", form_echo)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    echoed = await http.post("/login", content=b"token=t", headers=form)
    assert (echoed.status_code, echoed.content) == (200, b"token=t")
    assert_problem(await http.post("/login", content=b"x" * 70_000, headers=form), 413)
    headers = {**tokens.header("operate"), **form}
    assert_problem(await http.post("/v1/jobs", content=b"task=send", headers=headers), 415)


async def test_unknown_routes_and_methods_are_problems(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    assert_problem(await http.get("/v1/nothing", headers=tokens.header("read")), 404)
    assert_problem(await http.put("/v1/jobs", headers=tokens.header("read")), 405)


async def test_rate_limited_is_429_with_retry_after(api: FastAPI) -> None:
    @api.get("/boom")
    async def boom() -> None:
        raise RateLimited(2.4, "slow down")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://t") as c:
        response = await c.get("/boom")
    assert assert_problem(response, 429)["retry_after"] == 2.4
    assert response.headers["retry-after"] == "3"  # rounded up: never before it


async def test_the_openapi_document(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    campaign = document["paths"]["/campaign/addScheduledCampaign"]["post"]
    assert "CampaignBody" in str(campaign["requestBody"]) and "CampaignOut" in str(campaign)
    assert "Problem" in document["components"]["schemas"]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
