"""What the API holds between requests: the app and one lazily opened client.

The client (and its connections) is made on first use, not at start-up, so the
API works standalone (uvicorn runs its lifespan, which closes it) and mounted in
another ASGI app (whose lifespan does not run ours: the host closes it, through
`api.state.chronoq.close()`). Making it needs no await, so two first requests
cannot race to make two.
"""

from __future__ import annotations

from fastapi import Request

from chronoq.app import App
from chronoq.client import Client
from chronoq.redis.backend import Backend


class ApiState:
    def __init__(self, app: App, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._client: Client | None = None

    def client(self) -> Client:
        if self._client is None:
            self._client = self.app.client()
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()


def api_state(request: Request) -> ApiState:
    state = request.app.state.chronoq
    assert isinstance(state, ApiState)
    return state


def client(request: Request) -> Client:
    """A dependency: the API's client (its connections opened on first use)."""
    return api_state(request).client()


def backend(request: Request) -> Backend:
    return api_state(request).client().backend
