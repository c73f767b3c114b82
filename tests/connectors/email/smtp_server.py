"""A local SMTP server (aiosmtpd) the email connector's tests send to: it keeps
every message, answers a step with a scripted reply once, and can *hold* at a
step (not answer, and for the body not even read) until released, so a test can
SIGKILL the sender exactly there."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.servers.ports import free_port

# Where the server can hold: before answering MAIL, RCPT or the DATA command, after
# the 354 (the body is not read), or after the final "." (before the 250).
HOLD_POINTS = ("MAIL", "RCPT", "DATA", "BODY", "DOT")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message
    raw: bytes


@dataclass
class Script:
    """Scripted replies (step -> reply, used once) and one hold point."""

    replies: dict[str, list[str]] = field(default_factory=dict)
    hold: str | None = None
    held: threading.Event = field(default_factory=threading.Event)  # the hold was reached
    held_for: list[str] = field(default_factory=list)  # the held session's recipients
    arrivals: int = 0  # DATA contents that reached the server (including a held one)
    delay: float = 0.0  # seconds every RCPT waits before its reply (sends in flight longer)


class Handler:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.messages: list[Received] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None

    async def hold_if(self, point: str, envelope: Any = None) -> None:
        if self.script.hold != point:
            return
        self.script.hold = None  # once: the next sender goes through
        self.script.held_for = list(envelope.rcpt_tos) if envelope is not None else []
        self.loop = asyncio.get_running_loop()
        self._release = asyncio.Event()
        self.script.held.set()
        await self._release.wait()

    def release(self) -> None:
        if self.loop is not None and self._release is not None:
            self.loop.call_soon_threadsafe(self._release.set)

    def scripted(self, step: str) -> str | None:
        replies = self.script.replies.get(step)
        return replies.pop(0) if replies else None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        await self.hold_if("MAIL")
        reply = self.scripted("MAIL")
        if reply is not None:
            return reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        await self.hold_if("RCPT")
        if self.script.delay:
            await asyncio.sleep(self.script.delay)
        reply = self.scripted("RCPT")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.script.arrivals += 1
        await self.hold_if("DOT", envelope)
        reply = self.scripted("DOT")
        if reply is not None:
            return reply
        raw = bytes(envelope.content)
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(raw), raw)
        )
        return f"250 OK queued as q{len(self.messages)}"


class HoldingSMTP(SMTP):
    """aiosmtpd's session, able to hold before answering DATA, or right after
    the 354 (so the body stays unread and the sender's writes back up)."""

    def __init__(self, handler: Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.holder = handler

    async def smtp_DATA(self, arg: str) -> None:
        await self.holder.hold_if("DATA")
        reply = self.holder.scripted("DATA")
        if reply is not None:
            await self.push(reply)
            return
        await super().smtp_DATA(arg)

    async def push(self, status: Any) -> None:
        await super().push(status)
        if str(status).startswith("354"):
            await self.holder.hold_if("BODY")


class HoldingController(Controller):
    def factory(self) -> SMTP:
        return HoldingSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class SmtpServerFixture:
    port: int
    script: Script
    handler: Handler

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages


@pytest.fixture
def smtp_server() -> Iterator[SmtpServerFixture]:
    script = Script()
    handler = Handler(script)
    port = free_port()
    controller = HoldingController(
        handler, hostname="127.0.0.1", port=port, data_size_limit=64 * 1024 * 1024
    )
    controller.start()
    try:
        yield SmtpServerFixture(port, script, handler)
    finally:
        handler.release()
        controller.stop()
