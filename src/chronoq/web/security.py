"""The dashboard's browser-facing defenses, applied to every response and request
before any route runs (so no route can forget them):

- headers: a Content-Security-Policy allowing scripts, styles and images from the
  dashboard's own origin only (no inline script or style, no framing, no plugins),
  no MIME sniffing, no referrer to other sites, no caching of pages;
- an Origin (else Referer) check on every unsafe method: a request another site's
  page makes is refused with 403 before it reaches a route. The per-session form
  token (`chronoq.web.auth`) is the second, independent check.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REFUSED = b"cross-origin request refused: the Origin is not this dashboard's"


def own_origin(scope: Scope) -> str:
    """scheme://host[:port] as the browser addressed this server."""
    host = ""
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = value.decode("latin-1")
            break
    if not host:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else ""
    return f"{scope.get('scheme', 'http')}://{host}".lower()


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(scope: Scope, allowed: Iterable[str] = ()) -> bool:
    """Whether an unsafe request comes from this dashboard's pages (or an origin
    allowed explicitly, e.g. behind a proxy that rewrites Host)."""
    headers = dict(scope.get("headers", ()))
    claimed = headers.get(b"origin")
    if claimed is not None and claimed != b"null":
        origin: str | None = claimed.decode("latin-1").lower()
    else:
        referer = headers.get(b"referer")
        origin = origin_of(referer.decode("latin-1")) if referer else None
    if origin is None:
        return False
    return origin == own_origin(scope) or origin in {a.lower().rstrip("/") for a in allowed}


class SecurityMiddleware:
    """Pure ASGI (streams such as the live updates pass through untouched)."""

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS and not same_origin(scope, self.allowed_origins):
            await _refuse(send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in HEADERS if h[0] not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def _refuse(send: Send) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *HEADERS]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": _REFUSED})
