"""The outside platforms of the demo, on loopback: an SMTP server (aiosmtpd) that
keeps what it receives, and one HTTP site with a token-authenticated search API,
a news site to scrape (robots.txt with a Crawl-delay, pages with ETag and
Last-Modified) and, mounted by the demo app, the post-publishing emulator.

They stand in for the platforms a real deployment talks to, speaking the real
protocols, so the demo's campaign, post and scraping run end to end on a machine
with no network. Nothing here is used outside the demo and the tests.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.utils import formatdate
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

HOST = "127.0.0.1"
SEARCH_TOKEN = "demo-search-token"
SEARCH_PAGE = 4  # results per page: the search reads several pages
ROBOTS = "User-agent: *\nCrawl-delay: 1\nDisallow: /news/drafts/\nAllow: /\n"
PUBLISHED = "Tue, 01 Dec 2026 08:00:00 GMT"

# Prospects the demo's search finds: each with the zone the sending windows use.
PEOPLE: tuple[dict[str, str], ...] = (
    {"email": "ana@example.org", "name": "Ana", "zone": "Europe/Paris"},
    {"email": "bo@example.org", "name": "Bo", "zone": "America/New_York"},
    {"email": "chitra@example.net", "name": "Chitra", "zone": "Asia/Kolkata"},
    {"email": "dan@example.net", "name": "Dan", "zone": "Australia/Adelaide"},
    {"email": "eve@example.com", "name": "Eve", "zone": "Europe/London"},
    {"email": "farid@example.com", "name": "Farid", "zone": "Asia/Dubai"},
    {"email": "gwen@example.org", "name": "Gwen", "zone": "America/Los_Angeles"},
    {"email": "hiro@example.net", "name": "Hiro", "zone": "Asia/Tokyo"},
)
NEWS = {n: f"Story {n}: chronoq ran it on time." for n in range(1, 4)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


# -- SMTP ----------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the local SMTP server accepted: (recipients, subject) per message."""

    messages: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        subject = str(message_from_bytes(content).get("Subject", ""))
        with self.lock:
            self.messages.append((tuple(envelope.rcpt_tos), subject))
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


@dataclass
class SmtpSandbox:
    host: str
    port: int
    mailbox: Mailbox
    controller: Controller

    def stop(self) -> None:
        self.controller.stop()


def start_smtp(port: int = 0) -> SmtpSandbox:
    """An SMTP server on loopback (a free port unless one is given)."""
    mailbox = Mailbox()
    chosen = port or free_port()
    controller = Controller(mailbox, hostname=HOST, port=chosen)
    controller.start()
    return SmtpSandbox(HOST, chosen, mailbox, controller)


# -- HTTP ----------------------------------------------------------------------


async def _search(request: Request) -> Response:
    if request.headers.get("authorization") != f"Bearer {SEARCH_TOKEN}":
        return JSONResponse({"error": "a bearer token is required"}, status_code=401)
    start = int(request.query_params.get("cursor") or 0)
    end = start + SEARCH_PAGE
    page = list(PEOPLE[start:end])
    return JSONResponse({"results": page, "next_cursor": str(end) if end < len(PEOPLE) else None})


def _etag(body: str) -> str:
    return '"' + hashlib.sha1(body.encode()).hexdigest()[:16] + '"'


def _html(title: str, body: str) -> str:
    return f"<!doctype html><title>{title}</title><h1>{title}</h1>{body}"


async def _news_index(request: Request) -> Response:
    links = "".join(f'<li><a href="/news/{n}">{text}</a></li>' for n, text in NEWS.items())
    return _conditional(request, _html("News", f"<ul>{links}</ul>"))


async def _news_story(request: Request) -> Response:
    story = NEWS.get(int(request.path_params["n"]))
    if story is None:
        return PlainTextResponse("no such story", status_code=404)
    return _conditional(request, _html(story, f"<p>{story}</p>"))


def _conditional(request: Request, body: str) -> Response:
    """200 with validators, or 304 when the client's copy is current."""
    etag = _etag(body)
    headers = {"ETag": etag, "Last-Modified": PUBLISHED}
    if request.headers.get("if-none-match") == etag or (
        request.headers.get("if-modified-since") == PUBLISHED
    ):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/html", headers=headers)


async def _robots(_: Request) -> Response:
    return PlainTextResponse(ROBOTS)


def site(extra: list[BaseRoute] | None = None) -> Starlette:
    """The demo's HTTP platforms: /search, /news, /robots.txt, plus `extra` mounts."""
    routes: list[BaseRoute] = [
        Route("/robots.txt", _robots),
        Route("/search", _search),
        Route("/news/", _news_index),
        Route("/news/{n:int}", _news_story),
        *(extra or []),
    ]
    return Starlette(routes=routes)


ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@dataclass
class HttpSandbox:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def start_http(app: Starlette, port: int = 0, *, timeout: float = 10.0) -> HttpSandbox:
    """Serve `app` on loopback in a thread of its own; returns once it answers."""
    chosen = port or free_port()
    config = uvicorn.Config(app, host=HOST, port=chosen, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="chronoq-demo-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the demo's HTTP server did not start on {HOST}:{chosen}")
        time.sleep(0.02)
    return HttpSandbox(f"http://{HOST}:{chosen}", server, thread)


def mount(path: str, app: Any) -> Mount:
    return Mount(path, app=app)


def http_date(at: float) -> str:
    return formatdate(at, usegmt=True)
