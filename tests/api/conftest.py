"""The API under test: an app with tasks on a key prefix of its own, the ASGI app
driven by httpx in-process, and a token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from chronoq import App
from chronoq.api import create_api
from chronoq.core.access import Role
from tests.api.api_app import make_app

BASE = "http://chronoq.test"


@dataclass(frozen=True)
class Tokens:
    read: str
    operate: str
    admin: str

    def header(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


@pytest.fixture
def app(redis_url: str, prefix: str) -> App:
    return make_app(redis_url, prefix)


@pytest.fixture
async def api(app: App) -> AsyncIterator[FastAPI]:
    made = create_api(app, max_body_bytes=64 * 1024)
    yield made
    await made.state.chronoq.close()


@pytest.fixture
async def tokens(app: App) -> Tokens:
    async with app.backend() as backend:
        made = [(await backend.access.create_token(r.value, r))[1] for r in Role]
    return Tokens(*made)


@pytest.fixture
async def http(api: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def assert_problem(response: httpx.Response, status: int, *, field: str | None = None) -> dict:  # type: ignore[type-arg]
    """The response is a problem+json body of `status` (naming `field` if given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body  # type: ignore[no-any-return]
