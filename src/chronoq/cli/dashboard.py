"""`chronoq dashboard [APP] --host H --port P`: the HTTP API and the dashboard, alone
(`chronoq up` runs them beside its workers).

Secure by default: it binds 127.0.0.1, and refuses any other address while no
token exists (every page and API call needs one: `chronoq tokens create`).
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import subprocess
import sys
from typing import Annotated

import typer

from chronoq.app import App
from chronoq.cli.common import CliError, PrefixOption, RedisUrlOption, Target, console
from chronoq.cli.logs import configure_logging
from chronoq.cli.pool import spawner
from chronoq.core.access import AuditEntry, Role
from chronoq.redis.errors import RedisError

log = logging.getLogger("chronoq.web")
DEFAULT_HOST = "127.0.0.1"
FIRST_TOKEN_WAIT = 5.0  # seconds
DEFAULT_PORT = 8765

HostOption = Annotated[
    str, typer.Option("--host", help="Address to bind (a public one needs a token to exist).")
]
PortOption = Annotated[int, typer.Option("--port", help="TCP port.", min=0, max=65535)]


def dashboard(
    app: Annotated[
        str | None,
        typer.Argument(
            metavar="[APP]",
            envvar="CHRONOQ_APP",
            help="The App, as module:attribute (optional: for its settings and tasks).",
            show_default=False,
        ),
    ] = None,
    host: HostOption = DEFAULT_HOST,
    port: PortOption = DEFAULT_PORT,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning.")] = "info",
    make_first_token: Annotated[
        bool, typer.Option("--first-token", hidden=True, help="Make an admin token if none.")
    ] = False,
) -> None:
    """Serve the dashboard and the HTTP API (OpenAPI at /openapi.json), on
    127.0.0.1:8765 unless told otherwise."""
    configure_logging(log_level, "text")
    target = Target.resolve(app, redis_url, prefix)
    asyncio.run(ensure_bind_allowed(target.app, host))
    token = asyncio.run(first_token(target.app)) if make_first_token else None
    if token:
        console().print(f"log in with {token} (an admin token, made now: none existed)")
    console().print(f"chronoq dashboard: {site_url(host, port)}  (API: /v1, /openapi.json)")
    serve(target.app, host, port, log_level)


def serve(app: App, host: str, port: int, log_level: str = "info") -> None:
    # Imported here: every other command starts without loading FastAPI and uvicorn.
    import uvicorn  # noqa: PLC0415

    from chronoq.web.site import create_site  # noqa: PLC0415

    config = uvicorn.Config(
        create_site(app), host=host, port=port, log_level=log_level, access_log=False,
        lifespan="on", server_header=False,
    )  # fmt: skip
    # What start-up built (FastAPI's routes and models, the templates) lives as long as
    # the process: frozen out of the collector, a full collection no longer walks it
    # (those pauses were the API's p99 at a steady 200 requests/s, bench/api).
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run()


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def ensure_bind_allowed(app: App, host: str) -> None:
    """A public bind with no token is refused: nobody could log in but anybody could
    reach the port, so it is a mistake either way."""
    if is_loopback(host):
        return
    async with app.backend() as backend:
        if not await backend.access.tokens():
            raise CliError(
                f"refusing to serve on {host} with no tokens: anyone could reach it and nobody "
                "could log in; create one with `chronoq tokens create --role admin`, or bind "
                "127.0.0.1"
            )


def site_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def start_site(
    app: App, target: str, host: str, port: int, common: list[str]
) -> subprocess.Popen[bytes]:
    """`chronoq up`'s dashboard: a process of its own (web load never slows the
    workers), told the same server and prefix. A public address with no token is
    refused here, before anything starts."""
    if not is_loopback(host):
        asyncio.run(ensure_bind_allowed(app, host))
    command = [sys.executable, "-m", "chronoq", "dashboard", target, "--host", host]
    child = spawner([*command, "--port", str(port), "--first-token", *common])()
    console().print(f"dashboard and API: {site_url(host, port)}", highlight=False)
    return child


async def first_token(app: App) -> str | None:
    """An admin token named "up" when the deployment has none (else None), so the
    first run's URL can be logged into at once. A server that does not answer is
    not this process's to report (the workers say it): no token then."""
    try:
        return await asyncio.wait_for(_make_first_token(app), FIRST_TOKEN_WAIT)
    except (RedisError, OSError, TimeoutError):
        log.debug("no first token: the server did not answer", exc_info=True)
        return None


async def _make_first_token(app: App) -> str | None:
    async with app.backend() as backend:
        if await backend.access.tokens():
            return None
        _, visible = await backend.access.create_token("up", Role.ADMIN)
        await backend.access.record(AuditEntry("cli", "tokens.create", target="up",
                                               detail={"role": "admin", "by": "up"}))  # fmt: skip
        return visible
