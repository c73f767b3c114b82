"""Serving `/metrics`: an ASGI app to mount, a collector for your own registry, and
the small HTTP server `chronoq metrics serve` runs.

The server is the standard library's threading HTTP server, not uvicorn: chronoq
does not depend on an ASGI server, a scrape is one short request, and a thread per
request with one event loop thread owning the Redis connections is all it needs.
Where an ASGI server already runs (an API, a dashboard), mount `metrics_asgi(app)`
instead: it reads Redis on that server's own loop.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from chronoq.app import App
from chronoq.loop_thread import LoopThread
from chronoq.observe.metrics import CONTENT_TYPE, MetricsSnapshot, families, read_metrics, render
from chronoq.redis.backend import Backend

PATH = "/metrics"
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def metrics_asgi(app: App) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI app answering GET /metrics (mounted under a path, its root too) with
    `app`'s metrics. It opens its Redis connections on the first scrape, on the
    server's loop, and closes them at lifespan shutdown."""
    backend: Backend | None = None

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal backend
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if backend is not None:
                        await backend.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope.get("path", "/")
        if scope.get("method") not in ("GET", "HEAD") or path.rstrip("/") not in ("", PATH):
            await _respond(send, 404, b"not found\n", "text/plain; charset=utf-8")
            return
        if backend is None:
            backend = app.backend()
        body = render(await read_metrics(backend.snapshots))
        await _respond(send, 200, b"" if scope["method"] == "HEAD" else body, CONTENT_TYPE)

    return asgi


async def _respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ChronoqCollector(Collector):
    """Reads `app`'s metrics from Redis whenever its registry is collected, for a
    process that already serves prometheus_client's registry:
    `REGISTRY.register(ChronoqCollector(app))`. Call `close()` when done."""

    def __init__(self, app: App) -> None:
        self._loop = LoopThread("chronoq-metrics")
        self._backend = self._loop.run(_open(app))

    def read(self) -> MetricsSnapshot:
        return self._loop.run(read_metrics(self._backend.snapshots))

    def collect(self) -> Iterator[Metric]:
        return families(self.read())

    def close(self) -> None:
        if self._loop.running:
            self._loop.run(self._backend.close())
        self._loop.stop()


async def _open(app: App) -> Backend:
    return app.backend()  # made on the loop thread: its connections belong to that loop


class MetricsServer:
    """`chronoq metrics serve`: GET /metrics (and /) on host:port, until stopped."""

    def __init__(self, app: App, host: str, port: int) -> None:
        self.collector = ChronoqCollector(app)
        read = self.collector.read

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0].rstrip("/") not in ("", PATH):
                    self.send_error(404)
                    return
                body = render(read())
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: a scrape every 15 s is not worth a line."""

        self.http = ThreadingHTTPServer((host, port), Handler)
        self.http.daemon_threads = True

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.http.server_address[:2]
        return str(host), int(port)

    def serve(self) -> None:
        """Serve until SIGTERM, SIGINT or `stop()`; then close everything."""
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        in_main = threading.current_thread() is threading.main_thread()

        def stop_on_signal(_signum: int, _frame: FrameType | None) -> None:
            self.stop()

        if in_main:
            for sig in previous:
                signal.signal(sig, stop_on_signal)
        try:
            self.http.serve_forever(poll_interval=0.2)
        finally:
            if in_main:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
            self.http.server_close()
            self.collector.close()

    def stop(self) -> None:
        """Ends `serve()` (from any thread, a signal handler included)."""
        threading.Thread(target=self.http.shutdown, daemon=True).start()
