"""What the API holds between requests: the app and one lazily opened client.

The client (and its connections) is made on first use, not at start-up, so the
API works standalone (uvicorn runs its lifespan, which closes it) and mounted in
another ASGI app (whose lifespan does not run ours: the host closes it, through
`api.state.chronoq.close()`). Making it needs no await, so two first requests
cannot race to make two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import Request

from chronoq.api.meter import Meter
from chronoq.app import App
from chronoq.bulk import OperationRunner
from chronoq.client import Client
from chronoq.core.settings import parse_api_rate
from chronoq.redis.backend import Backend

log = logging.getLogger("chronoq.api")
RUNNER_STOP_TIMEOUT = 5.0  # seconds; a batch in flight finishes first


class ApiState:
    def __init__(
        self,
        app: App,
        max_body_bytes: int,
        *,
        run_operations: bool = True,
        api_rate: str | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.run_operations = run_operations
        rate = app.settings.api_rate if api_rate is None else api_rate
        self.meter = Meter(parse_api_rate(rate))
        self._client: Client | None = None
        self._stop = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    def client(self) -> Client:
        if self._client is None:
            self._client = self.app.client()
        if self._runner is None:
            self.start_runner()
        return self._client

    def start_runner(self) -> None:
        """Run bulk operations in this process (`chronoq.bulk`): from the lifespan's
        start, or from the first request when mounted (no lifespan of ours runs).
        Only on the event loop's thread: a sync dependency asks from a worker
        thread, and the request's (async) token check asks again on the loop."""
        if not self.run_operations or self._runner is not None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._client is None:
            self._client = self.app.client()
        self._stop.clear()
        self._runner = asyncio.create_task(self._run_operations(self._client.backend))

    async def _run_operations(self, backend: Backend) -> None:
        try:
            settings = self.app.settings
            runner = OperationRunner(backend, batch_size=settings.operations_batch_size,
                                     lease=settings.operations_lease,
                                     pause=settings.operations_pause)  # fmt: skip
            await runner.run(self._stop)
        except Exception:  # a runner that cannot go on must not take the API down
            log.exception("bulk operations runner stopped")

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            self._stop.set()  # an operation in hand is left mid-way: another resumes it
            with contextlib.suppress(TimeoutError):  # then wait_for cancelled it
                await asyncio.wait_for(runner, timeout=RUNNER_STOP_TIMEOUT)
        client, self._client = self._client, None
        if client is not None:
            await client.close()


def api_state(request: Request) -> ApiState:
    state = request.app.state.chronoq
    assert isinstance(state, ApiState)
    return state


def backend_of(request: Request) -> Backend:
    """The API's backend, for code that has the request (not a dependency)."""
    return api_state(request).client().backend


# The dependencies are coroutines although they wait for nothing: FastAPI runs a
# plain `def` dependency in its thread pool, a thread hop per request (measured:
# 5 % of the server's time at 200 requests/s, and a wait for a free thread on a
# busy machine).
async def client(request: Request) -> Client:
    """A dependency: the API's client (its connections opened on first use)."""
    return api_state(request).client()


async def backend(request: Request) -> Backend:
    return backend_of(request)
