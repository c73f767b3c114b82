"""The per-token request limit (CHRONOQ_API_RATE): 429 with Retry-After and a
problem body beyond it, each token its own budget, decided by chronoq's own rate
limiter (the limit `chronoq-api`, live-editable) in the token check's round trip."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import redis
from fastapi import FastAPI

from chronoq import App
from chronoq.api import create_api
from chronoq.core.limits import rate_limit
from chronoq.core.settings import API_LIMIT, Settings
from tests.api.conftest import BASE, Tokens, assert_problem


async def _client(api: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url=BASE)


@pytest.fixture
async def slow(app: App) -> AsyncIterator[httpx.AsyncClient]:
    """The API with 3 requests a minute per token (bursts of 3, then one each 20 s)."""
    api = create_api(app, rate="3/min")
    async with await _client(api) as http:
        yield http
    await api.state.chronoq.close()


async def test_a_token_over_its_rate_gets_429_with_retry_after(
    slow: httpx.AsyncClient, tokens: Tokens
) -> None:
    answers = [await slow.get("/v1/tasks", headers=tokens.header("read")) for _ in range(5)]
    assert [r.status_code for r in answers[:4]] == [200] * 4  # the burst: 3 + the first
    body = assert_problem(answers[4], 429)
    assert 19 <= body["retry_after"] <= 20 and "3/minute" in body["detail"]
    assert answers[4].headers["retry-after"] == "20"
    refused = assert_problem(await slow.get("/v1/tasks", headers=tokens.header("read")), 429)
    assert refused["retry_after"] <= body["retry_after"]  # a refusal books nothing
    other = await slow.get("/v1/tasks", headers=tokens.header("admin"))
    assert other.status_code == 200  # each token has its own budget


async def test_waiting_retry_after_gets_in(app: App, tokens: Tokens) -> None:
    api = create_api(app, rate="2/s")  # bursts of 2 + 1, then one each 0.5 s
    headers = tokens.header("read")
    async with await _client(api) as http:
        answers = await asyncio.gather(*(http.get("/v1/tasks", headers=headers) for _ in range(8)))
        statuses = sorted(r.status_code for r in answers)
        assert statuses[:3] == [200] * 3 and statuses[-1] == 429, statuses
        refused = await http.get("/v1/tasks", headers=headers)
        wait = assert_problem(refused, 429)["retry_after"]
        assert 0 < wait <= 0.5
        await asyncio.sleep(wait + 0.02)
        assert (await http.get("/v1/tasks", headers=headers)).status_code == 200
    await api.state.chronoq.close()


async def test_the_limit_is_a_chronoq_limit_an_operator_changes_live(
    slow: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    for _ in range(4):
        assert (await slow.get("/v1/tasks", headers=tokens.header("read"))).status_code == 200
    assert_problem(await slow.get("/v1/tasks", headers=tokens.header("read")), 429)
    async with app.backend() as backend:
        stored = await backend.limits.get(API_LIMIT)
        assert stored.rate_text == "3/minute" and stored.burst == 3
        (usage,) = await backend.limits.usage(API_LIMIT)  # the busiest tokens, by id
        await backend.limits.set(rate_limit(API_LIMIT, "1000/s", burst=1000))
    assert tokens.read.startswith(f"cq_{usage.key}_")
    assert (await slow.get("/v1/tasks", headers=tokens.header("read"))).status_code == 200


async def test_made_up_tokens_leave_no_limit_state(
    slow: httpx.AsyncClient, tokens: Tokens, raw: redis.Redis, prefix: str
) -> None:
    assert (await slow.get("/v1/tasks", headers=tokens.header("read"))).status_code == 200
    for n in range(5):
        fake = {"Authorization": f"Bearer cq_{n:012x}_{'0' * 48}"}
        assert_problem(await slow.get("/v1/tasks", headers=fake), 401)
    states = [k for k in raw.scan_iter(match=f"{prefix}:{{lim:{API_LIMIT}}}:s:*")]
    assert len(states) == 1 and tokens.read.startswith(f"cq_{states[0].rsplit(':', 1)[1]}_")
    (recent,) = raw.zrange(f"{prefix}:{{lim:{API_LIMIT}}}:keys", 0, -1)
    assert tokens.read.startswith(f"cq_{recent}_")
    wrong = {"Authorization": f"Bearer {tokens.read[:-4]}0000"}  # a real id, a wrong secret
    assert_problem(await slow.get("/v1/tasks", headers=wrong), 401)


async def test_off_stores_no_limit_and_a_bad_rate_is_refused(
    app: App, tokens: Tokens, raw: redis.Redis, prefix: str
) -> None:
    api = create_api(app, rate="off")
    async with await _client(api) as http:
        for _ in range(60):
            assert (await http.get("/v1/tasks", headers=tokens.header("read"))).status_code == 200
    await api.state.chronoq.close()
    assert not list(raw.scan_iter(match=f"{prefix}:{{lim:*"))
    assert Settings(api_rate="50/s").api_rate_limit() == rate_limit(API_LIMIT, "50/s", burst=50)
    with pytest.raises(ValueError, match="bad rate"):
        Settings(api_rate="fast")
