"""The dashboard against a real Redis: an app with tasks a real worker runs, tokens
of each role, and an HTTP client that talks to the ASGI app (httpx)."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from chronoq import App
from chronoq.core.access import Role
from chronoq.web import create_dashboard
from chronoq.web.site import create_site
from tests.servers.process import free_port  # reserved across xdist workers

ORIGIN = "http://dash.test"


def make_app(redis_url: str, prefix: str) -> App:
    app = App("webtest", redis_url=redis_url, prefix=prefix)

    @app.task(name="add", queue="default")
    def add(a: int, b: int, password: str = "") -> int:
        return a + b

    @app.task(name="explode", queue="mail", max_retries=0)
    def explode(to: str) -> None:
        raise ValueError(f"cannot send to {to}")

    app.schedule("nightly", "0 3 * * *", add, args=[1, 2], tz="Europe/Paris")
    app.limit("partner", "60/min", burst=2)
    app.quota("emails", 100, per="day")
    return app


@pytest.fixture
def web_app(redis_url: str, prefix: str) -> App:
    return make_app(redis_url, prefix)


@dataclass
class Tokens:
    read: str
    operate: str
    admin: str


@pytest.fixture
async def tokens(web_app: App) -> Tokens:
    async with web_app.backend() as backend:
        made = {}
        for role in Role:
            _, visible = await backend.access.create_token(f"{role.value}-person", role)
            made[role.value] = visible
    return Tokens(**made)


@pytest.fixture
async def dashboard(web_app: App) -> AsyncIterator[FastAPI]:
    web = create_dashboard(web_app)
    async with web.router.lifespan_context(web):
        yield web


def client_for(web: FastAPI, base_url: str = ORIGIN) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url=base_url)


async def log_in(http: httpx.AsyncClient, token: str) -> str:
    """Log in; returns the session's form token (read from the page's meta tag)."""
    reply = await http.post("/login", data={"token": token}, headers={"origin": ORIGIN})
    assert reply.status_code == 303, reply.text
    page = await http.get("/")
    found = re.search(r'name="chronoq-csrf" content="([0-9a-f]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


@pytest.fixture
async def http(dashboard: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(dashboard) as client:
        yield client


@dataclass
class Session:
    http: httpx.AsyncClient
    csrf: str

    async def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        body = {"csrf": self.csrf, **(data or {})}
        return await self.http.post(path, data=body, headers={"origin": ORIGIN})


@pytest.fixture
async def login(dashboard: FastAPI) -> AsyncIterator[Callable[[str], Awaitable[Session]]]:
    """`await login(tokens.operate)`: a logged-in session (closed after the test)."""
    opened: list[httpx.AsyncClient] = []

    async def open_session(token: str) -> Session:
        http = client_for(dashboard)
        opened.append(http)
        return Session(http, await log_in(http, token))

    yield open_session
    for http in opened:
        await http.aclose()


@pytest.fixture
def served(web_app: App) -> Iterator[str]:
    """The site `chronoq dashboard` serves (the API with the dashboard mounted) under
    uvicorn, in a thread of its own (its own event loop)."""
    port = free_port()
    config = uvicorn.Config(create_site(web_app), host="127.0.0.1", port=port,
                            log_level="warning", ws="none", lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(15)
