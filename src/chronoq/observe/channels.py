"""Sending notifications: signed webhooks (httpx) and email (aiosmtplib).

Every attempt, failed or not, is logged in Redis (`AlertStore.log_delivery`, read
by `chronoq alerts show`). A failure worth retrying (a connection error, a timeout,
a 429 or 5xx answer, an SMTP error) is retried `retries` times with backoff;
another 4xx is not (the receiver refuses the request as it is).

Webhook request: POST, body the notification's JSON, headers `Content-Type:
application/json`, `X-Chronoq-Timestamp` (epoch seconds) and `X-Chronoq-Signature:
sha256=<hex HMAC-SHA256 of "timestamp.body">` (`chronoq.core.alerts.signature`).

httpx and aiosmtplib are imported where a notification is actually sent: every
worker imports this module (it evaluates alerts), and most never send anything,
so they do not pay those imports (about 0.1 s of CPU) at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

from chronoq.core.alerts import Channel, EmailChannel, Notification, WebhookChannel, signature
from chronoq.redis.alerts import AlertStore

log = logging.getLogger("chronoq.alerts")

Attempt = Callable[[], Awaitable[tuple[bool, bool, str]]]  # ok, retry, detail


async def deliver(
    channel: Channel,
    notification: Notification,
    store: AlertStore,
    *,
    attempts: list[dict[str, Any]] | None = None,
) -> bool:
    """Send `notification` through `channel`, retrying; True once it was accepted.
    `attempts` (if given) gets each attempt's log entry as well."""
    if isinstance(channel, WebhookChannel):
        attempt: Attempt = lambda: _post(channel, notification)  # noqa: E731
    else:
        attempt = lambda: _mail(channel, notification)  # noqa: E731
    tries = channel.retries + 1
    for number in range(1, tries + 1):
        ok, retry, detail = await attempt()
        entry = _entry(channel, notification, number, ok, detail)
        await store.log_delivery(entry)
        if attempts is not None:
            attempts.append(entry)
        if ok:
            return True
        log.warning("chronoq alert %s to %s failed (attempt %d of %d): %s",
                    notification.rule, channel.name, number, tries, detail)  # fmt: skip
        if not retry or number == tries:
            return False
        await asyncio.sleep(channel.backoff * 2 ** (number - 1))
    return False


async def deliver_test(channel: Channel, store: AlertStore, app: str = "") -> dict[str, Any]:
    """A test notification through one channel, in one attempt (whoever asked waits
    for the receiver's answer, not for backoffs): {channel, kind, delivered,
    attempts: [the delivery log's entries]}."""
    notification = Notification(
        "test", "test", "chronoq", "warning", "a test notification from chronoq",
        at=time.time(), app=app,
    )  # fmt: skip
    attempts: list[dict[str, Any]] = []
    delivered = await deliver(replace(channel, retries=0), notification, store, attempts=attempts)
    return {"channel": channel.name, "kind": channel.kind, "delivered": delivered,
            "attempts": attempts}  # fmt: skip


def _entry(
    channel: Channel, n: Notification, attempt: int, ok: bool, detail: str
) -> dict[str, Any]:
    return {"at": round(time.time(), 3), "channel": channel.name, "kind": channel.kind,
            "event": n.event, "rule": n.rule, "subject": n.subject, "attempt": attempt,
            "ok": ok, "detail": detail}  # fmt: skip


def webhook_headers(secret: str, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "X-Chronoq-Timestamp": stamp,
        "X-Chronoq-Signature": signature(secret, stamp, body),
    }


async def _post(channel: WebhookChannel, n: Notification) -> tuple[bool, bool, str]:
    import httpx  # noqa: PLC0415 (lazy: see the module docstring)

    body = n.body()
    headers = webhook_headers(channel.secret, body)
    try:
        async with httpx.AsyncClient(timeout=channel.timeout) as http:
            response = await http.post(channel.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return False, True, f"{type(exc).__name__}: {exc}"
    status = response.status_code
    if 200 <= status < 300:
        return True, False, f"HTTP {status}"
    return False, status == 429 or status >= 500, f"HTTP {status}"


async def _mail(channel: EmailChannel, n: Notification) -> tuple[bool, bool, str]:
    import aiosmtplib  # noqa: PLC0415 (lazy: see the module docstring)

    message = EmailMessage()
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Subject"] = n.title()
    lines = [f"{k}: {v}" for k, v in n.to_dict().items() if v not in (None, "", {})]
    message.set_content("\n".join(lines) + "\n")
    try:
        await aiosmtplib.send(
            message,
            hostname=channel.host,
            port=channel.port,
            username=channel.username,
            password=channel.password,
            start_tls=channel.starttls,
            use_tls=channel.use_tls,
            timeout=channel.timeout,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        return False, True, f"{type(exc).__name__}: {exc}"
    return True, False, f"sent to {len(channel.to)} recipient(s)"


async def send_test(channels: list[Channel], store: AlertStore, app: str = "") -> dict[str, bool]:
    """Send a test notification through each channel: {name: accepted}."""
    notification = Notification(
        "test", "test", "chronoq", "warning", "a test notification from chronoq",
        at=time.time(), app=app,
    )  # fmt: skip
    return {c.name: await deliver(c, notification, store) for c in channels}
