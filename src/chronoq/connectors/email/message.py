"""The MIME message for one recipient, with the one-click unsubscribe headers.

RFC 8058: `List-Unsubscribe: <https://...>` plus `List-Unsubscribe-Post:
List-Unsubscribe=One-Click` lets a mailbox provider unsubscribe with one POST
(large providers require it of bulk senders). The URL must be https. The
Message-ID is derived from the ledger key, so a resend after a crash carries the
same id and a receiver that saw both can tell them one message.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from urllib.parse import urlsplit

from chronoq.connectors.email.templates import Rendered


class BadAddress(ValueError):
    """An address or URL the message cannot carry."""


def check_unsubscribe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise BadAddress(f"the unsubscribe URL must be an https URL (RFC 8058), got {url!r}")
    if any(c in url for c in "<>\r\n ,"):
        raise BadAddress(f"the unsubscribe URL {url!r} has characters a header cannot carry")
    return url


def message_id(ledger_key: str, sender: str) -> str:
    """Stable per (key, recipient): `<hash@sender's domain>`."""
    digest = hashlib.sha256(ledger_key.encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{digest}@{domain}>"


def build_message(
    rendered: Rendered,
    *,
    sender: str,
    recipient: str,
    msg_id: str,
    unsubscribe_url: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    for address in (sender, recipient):
        if "@" not in address or any(c in address for c in "\r\n<> ,"):
            raise BadAddress(f"not a plain email address: {address!r}")
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = msg_id
    if unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{check_unsubscribe_url(unsubscribe_url)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(rendered.text)
    if rendered.html is not None:
        message.add_alternative(rendered.html, subtype="html")
    return message
