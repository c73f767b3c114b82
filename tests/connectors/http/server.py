"""A local HTTP server the connector tests talk to (http.server in a thread, on a
free port): a token-authenticated search that pages by cursor or by page number,
throttles with 429/503 + Retry-After in either form when told to, robots.txt
variants, pages with ETag and Last-Modified (or without validators when told to),
a page with a Last-Modified only, and a log of every request."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.servers.ports import HOST, free_port

TOKEN = "s3cret"
ITEMS = [{"id": n, "name": f"person {n}"} for n in range(7)]
CURSOR_PAGE = 3
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float  # time.time()


@dataclass
class Platform:
    url: str = ""
    robots: str | int = "User-agent: *\nAllow: /\n"  # text, or a status to answer
    robots_cache_control: str = ""  # a Cache-Control header on robots.txt, when set
    throttles: list[tuple[int, str]] = field(default_factory=list)  # (status, Retry-After)
    throttle_skip: int = 0  # answer this many throttle-able requests before throttling
    validators: bool = True  # /page answers with an ETag and a Last-Modified
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, prefix: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path.startswith(prefix)]


def http_date(at: float) -> str:
    return formatdate(at, usegmt=True)


def _handler(platform: Platform) -> type[BaseHTTPRequestHandler]:  # noqa: C901 (one class)
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            with platform.lock:
                platform.seen.append(Seen(parts.path, query, dict(self.headers), time.time()))
            if parts.path == "/robots.txt":
                self._robots()
            elif parts.path.startswith(("/search", "/page")) and self._throttled():
                return
            elif parts.path == "/search":
                self._search(query)
            elif parts.path.startswith("/page"):
                self._page()
            elif parts.path.startswith("/dated"):
                self._dated()
            else:
                self._send(404, b"not found")

        def _throttled(self) -> bool:
            with platform.lock:
                if not platform.throttles:
                    return False
                if platform.throttle_skip > 0:
                    platform.throttle_skip -= 1
                    return False
                status, retry_after = platform.throttles.pop(0)
            self._send(status, b"slow down", {"Retry-After": retry_after})
            return True

        def _robots(self) -> None:
            headers = {"Content-Type": "text/plain"}
            if platform.robots_cache_control:
                headers["Cache-Control"] = platform.robots_cache_control
            if isinstance(platform.robots, int):
                self._send(platform.robots, b"", headers)
            else:
                self._send(200, platform.robots.encode(), headers)

        def _search(self, query: dict[str, str]) -> None:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, b"bad token")
                return
            if "page" in query:
                size = int(query.get("per_page", "50"))
                start = (int(query["page"]) - 1) * size
                body: dict[str, Any] = {"results": ITEMS[start : start + size]}
            else:
                start = int(query.get("cursor", "0"))
                end = start + CURSOR_PAGE
                body = {"results": ITEMS[start:end],
                        "next_cursor": str(end) if end < len(ITEMS) else None}  # fmt: skip
            self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

        def _page(self) -> None:
            if not platform.validators:
                self._send(200, f"<p>{self.path}</p>".encode(), {"Content-Type": "text/html"})
                return
            if self.headers.get("If-None-Match") == ETAG:
                self._send(304, b"", {"ETag": ETAG})
                return
            headers = {"ETag": ETAG, "Last-Modified": LAST_MODIFIED, "Content-Type": "text/html"}
            self._send(200, f"<p>{self.path}</p>".encode(), headers)

        def _dated(self) -> None:
            """A page with a Last-Modified only (no ETag): If-Modified-Since decides."""
            if self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                self._send(304, b"")
                return
            self._send(200, b"<p>dated</p>", {"Last-Modified": LAST_MODIFIED})

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@pytest.fixture
def platform() -> Iterator[Platform]:
    state = Platform()
    server = ThreadingHTTPServer((HOST, free_port()), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://{HOST}:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
