"""A local TikTok Content Posting API on loopback (http.server in a thread), for the
connector's tests and the bundled demo: init, chunked upload, status progression,
publish, its rate limits and its token rotation (platform.py holds the rules).

```
with TikTokEmulator(min_chunk=64 * 1024) as tiktok:
    tokens = tiktok.platform.authorize("acme")   # what a user's consent returns
    api = TikTokClient(tiktok.url, tiktok.platform.client_key, tiktok.platform.client_secret)
```

`python -m chronoq.connectors.posting.emulator --port 8910` serves it until
interrupted. Loopback only: it is a test double, with no authentication beyond
the tokens it issued itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chronoq.connectors.posting.platform import Account, Hold, Platform, Reply, envelope

LOOPBACK = "127.0.0.1"
JSON_ROUTES = {
    "/v2/post/publish/video/init/": "init",
    "/v2/post/publish/inbox/video/init/": "inbox_init",
    "/v2/post/publish/status/fetch/": "status",
    "/v2/post/publish/creator_info/query/": "creator_info",
}


class _Handler(BaseHTTPRequestHandler):
    platform: Platform
    base_url: str
    protocol_version = "HTTP/1.1"

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/v2/user/info/":
            self._send(envelope(404, "not_found", f"no route {parts.path}"))
            return
        self._send(
            self._with_caller(
                "user_info",
                lambda account: self.platform.user_info(
                    account, parse_qs(parts.query).get("fields", [""])[0].split(",")
                ),
            )
        )

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        raw = self._body()
        if parts.path == "/v2/oauth/token/":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            reply = self.platform.scripted("token") or self.platform.refresh(form)
            self._send(self.platform.record("token", reply))
            return
        endpoint = JSON_ROUTES.get(parts.path)
        if endpoint is None:
            self._send(envelope(404, "not_found", f"no route {parts.path}"))
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(self.platform.record(endpoint, envelope(400, "invalid_params", "not JSON")))
            return
        self._send(
            self._with_caller(endpoint, lambda account: self._route(endpoint, account, body))
        )

    def _route(self, endpoint: str, account: Account, body: Any) -> Reply:
        if not isinstance(body, dict):
            return envelope(400, "invalid_params", "the body must be a JSON object")
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if endpoint in ("init", "inbox_init"):
            limited = self.platform.throttled("init", token, self.platform.init_per_minute)
            mode = "direct" if endpoint == "init" else "inbox"
            return limited or self.platform.init(account, body, mode, self.base_url)
        if endpoint == "status":
            limited = self.platform.throttled("status", token, self.platform.status_per_minute)
            return limited or self.platform.status(account, body)
        return self.platform.creator_info(account)

    def _with_caller(self, endpoint: str, then: Any) -> Reply:
        scripted = self.platform.scripted(endpoint)
        if scripted is not None:
            return self.platform.record(endpoint, scripted)
        caller = self.platform.caller(self.headers.get("Authorization"))
        reply: Reply = caller if isinstance(caller, tuple) else then(caller)
        return self.platform.record(endpoint, reply)

    def do_PUT(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = self._body()
        if parts.path != "/upload/":
            self._send(envelope(404, "not_found", f"no route {parts.path}"))
            return
        reply = self.platform.scripted("upload") or self.platform.chunk(
            query.get("upload_id", ""),
            query.get("upload_token", ""),
            self.headers.get("Content-Range"),
            body,
        )
        if reply[0] == 0:  # a held chunk, dropped: close without an answer
            self.close_connection = True
            return
        self._send(self.platform.record("upload", reply, range=self.headers.get("Content-Range")))

    def _send(self, reply: Reply) -> None:
        status, body, headers = reply
        data = json.dumps(body).encode() if body else b""
        with contextlib.suppress(OSError):  # the caller may be gone (a killed worker)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


class TikTokEmulator:
    """The emulator's HTTP server; `platform` its state (see platform.Platform for
    the options, passed through). `port=0` takes a free one."""

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, **options: Any) -> None:
        self.platform = Platform(**options)
        self.host = host
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> str:
        """Serve in a daemon thread; the base URL."""
        platform = self.platform

        class Handler(_Handler):
            pass

        Handler.platform = platform
        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        Handler.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="tiktok-emulator"
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        hold = self.platform.hold
        if hold is not None:
            hold.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def hold_chunk(self, index: int, *, after_store: bool = False) -> Hold:
        """Hold the next upload of chunk `index` (0-based) until `hold.release` is set:
        before storing it (the chunk is then dropped) or after (its reply is lost)."""
        hold = Hold(index, after_store)
        with self.platform.lock:
            self.platform.hold = hold
        return hold

    def __enter__(self) -> TikTokEmulator:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a local TikTok Content Posting emulator")
    parser.add_argument("--port", type=int, default=8910)
    parser.add_argument("--account", action="append", default=[], help="authorize this account")
    args = parser.parse_args(argv)
    emulator = TikTokEmulator(port=args.port)
    print(f"TikTok emulator on {emulator.start()}", flush=True)
    for name in args.account:
        print(json.dumps({name: emulator.platform.authorize(name)}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    emulator.stop()


if __name__ == "__main__":
    main()
