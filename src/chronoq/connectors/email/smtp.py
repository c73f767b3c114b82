"""One SMTP transaction over aiosmtplib, step by step, telling the caller each
step reached before the next one starts.

aiosmtplib's `send_message` is one call from connect to the 250: a crash inside it
says nothing about how far it got. Here every step is its own call, and `reached`
(an async callback: the ledger write) runs after each reply and, crucially, just
before the final "." is written, so the ledger can never be behind the wire.

The message body is written with flow control: the "." waits until the body has
left our buffers. aiosmtplib offers no public drain, so this is the one place that
reaches into it (`SMTPProtocol._drain_helper`, asyncio's StreamWriter pattern).

Left to itself, aiosmtplib looks up the local host name (`socket.getfqdn`, a
reverse DNS lookup in a thread) and, for TLS, builds a default SSL context
(loading the system's CA bundle) on every connection: one connection per send,
so both are made once per process here (`local_hostname`, `tls_context`) and
handed to each client.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aiosmtplib
from aiosmtplib import SMTPResponse

from chronoq.connectors.email.phases import Phase

Reached = Callable[[Phase], Awaitable[None]]
Security = Literal["none", "starttls", "tls"]
_LEADING_DOT = re.compile(rb"(?m)^\.")
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")


class SmtpReply(Exception):
    """The server answered a step with a code other than the one it needed."""

    def __init__(self, phase: Phase, code: int, text: str) -> None:
        super().__init__(f"SMTP {code} {text} (after {phase.value})")
        self.phase = phase
        self.code = code
        self.text = text


class SmtpNoTls(Exception):
    """The server does not offer STARTTLS and the connection asked for it: nothing
    was sent, and no retry can change that (a configuration to fix)."""


class SmtpLost(Exception):
    """The connection broke (or timed out) during a step; `phase`: the last step
    recorded as reached."""

    def __init__(self, phase: Phase, cause: BaseException) -> None:
        super().__init__(f"SMTP connection lost after {phase.value}: {cause}")
        self.phase = phase


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to connect. `security`: "starttls" (port 587: upgrade after
    EHLO, refusing a server that cannot), "tls" (port 465: TLS from the first
    byte) or "none" (loopback and tests only). `username`/`password`: AUTH."""

    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 60.0
    tls_context: ssl.SSLContext | None = None
    local_hostname: str | None = None

    def __post_init__(self) -> None:
        if self.security not in ("none", "starttls", "tls"):
            raise ValueError(f"security must be none, starttls or tls, got {self.security!r}")
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password for SMTP AUTH, or neither")


_made: dict[str, object] = {}  # what every connection of this process shares


async def local_hostname(server: SmtpServer) -> str:
    """The name EHLO gives: the server's `local_hostname`, else this host's fully
    qualified name, looked up once per process."""
    if server.local_hostname is not None:
        return server.local_hostname
    name = _made.get("fqdn")
    if name is None:
        name = _made["fqdn"] = await asyncio.to_thread(socket.getfqdn)
    return str(name)


async def tls_context(server: SmtpServer) -> ssl.SSLContext | None:
    """The server's `tls_context`, else one default context (verifying the server's
    certificate and name against the system's CAs) made once per process; None
    for "none" security."""
    if server.security == "none":
        return None
    if server.tls_context is not None:
        return server.tls_context
    context = _made.get("tls")
    if not isinstance(context, ssl.SSLContext):
        made = asyncio.to_thread(ssl.create_default_context, ssl.Purpose.SERVER_AUTH)
        context = _made["tls"] = await made
    return context


def _expect(phase: Phase, reply: SMTPResponse, code: int) -> None:
    if reply.code != code:
        raise SmtpReply(phase, reply.code, reply.message)


def encode_body(message: bytes) -> bytes:
    """CRLF line ends and dot-stuffing (RFC 5321 4.5.2), ending in CRLF, no terminator."""
    body = _LINE_ENDS.sub(b"\r\n", message)
    body = _LEADING_DOT.sub(b"..", body)
    return body if body.endswith(b"\r\n") else body + b"\r\n"


async def transact(
    server: SmtpServer, sender: str, recipient: str, message: bytes, reached: Reached
) -> SMTPResponse:
    """Deliver `message` to one recipient; the reply to the final "." (250) on
    success. SmtpReply for a refusal at any step, SmtpLost for a broken link."""
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        use_tls=server.security == "tls",
        start_tls=False,
        timeout=server.timeout,
        tls_context=await tls_context(server),
        local_hostname=await local_hostname(server),
    )
    last = [Phase.STARTED]

    async def note(phase: Phase) -> None:
        await reached(phase)
        last[0] = phase

    try:
        await _steps(
            client, server, sender=sender, recipient=recipient, message=message, reached=note
        )
        return await _finish(client, server, note)
    except aiosmtplib.SMTPResponseException as exc:
        raise SmtpReply(last[0], exc.code, exc.message) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise SmtpLost(last[0], exc) from exc
    finally:
        with contextlib.suppress(Exception):
            client.close()


async def _steps(
    client: aiosmtplib.SMTP,
    server: SmtpServer,
    *,
    sender: str,
    recipient: str,
    message: bytes,
    reached: Reached,
) -> None:
    """Everything up to the written body."""
    await client.connect()
    await client.ehlo()
    if server.security == "starttls":
        if not client.supports_extension("starttls"):
            raise SmtpNoTls(
                f"{server.host}:{server.port} does not offer STARTTLS, and security="
                "'starttls' refuses to send in clear (use security='none' on loopback only)"
            )
        await client.starttls()
    if server.username is not None and server.password is not None:
        await client.login(server.username, server.password)
    await reached(Phase.CONNECTED)
    await client.mail(sender)
    await reached(Phase.MAIL_FROM)
    await client.rcpt(recipient)
    await reached(Phase.RCPT)
    _expect(Phase.RCPT, await client.execute_command(b"DATA"), 354)
    await reached(Phase.DATA)
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("connection lost after DATA")
    protocol.write(encode_body(message))
    drain = getattr(protocol, "_drain_helper", None)
    if drain is not None:
        await drain()


async def _finish(client: aiosmtplib.SMTP, server: SmtpServer, reached: Reached) -> SMTPResponse:
    """Record DOT, write the ".", read the reply. A failure from here on is past
    the point of no return: SmtpLost(DOT)."""
    await reached(Phase.DOT)
    protocol = client.protocol
    try:
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost before the final '.'")
        protocol.write(b".\r\n")
        reply = await protocol.read_response(timeout=server.timeout)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise SmtpLost(Phase.DOT, exc) from exc
    _expect(Phase.DOT, reply, 250)
    with contextlib.suppress(Exception):
        await client.quit()
    return reply
