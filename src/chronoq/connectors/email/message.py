"""The MIME message for one recipient, with the one-click unsubscribe headers.

RFC 8058: `List-Unsubscribe: <https://...>` plus `List-Unsubscribe-Post:
List-Unsubscribe=One-Click` lets a mailbox provider unsubscribe with one POST
(large providers require it of bulk senders). The URL must be https. The
Message-ID is derived from the ledger key, so a resend after a crash carries the
same id and a receiver that saw both can tell them one message.

The message is written here as text, not with `email.message.EmailMessage`: its
header registry parses every header it is given and its generator refolds them,
which cost ~3 ms of worker CPU per message, more than the rest of a send
(bench/email/RESULTS.md). The shapes are the few a campaign mail has: headers
(RFC 2047 encoded words only where a value is not ASCII or too long for a line),
then one text/plain part, or multipart/alternative of text and HTML; each body
7bit when it is ASCII in short lines, else quoted-printable (base64 when mostly
not ASCII). The stdlib's C helpers (binascii) do the encoding.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
from email.header import Header
from email.utils import formatdate
from urllib.parse import urlsplit

from chronoq.connectors.email.templates import Rendered

_MAX_LINE = 998  # RFC 5322 2.1.1: characters per line, without the CRLF
_FOLD_AT = 78  # a header longer than this is folded (RFC 5322's "SHOULD")
_HEADER_NAME = re.compile(r"^[!-9;-~]{1,76}$")  # printable ASCII, no ':' or space
_OURS = frozenset(
    name.lower()
    for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe",
                 "List-Unsubscribe-Post", "MIME-Version", "Content-Type",
                 "Content-Transfer-Encoding")
)  # fmt: skip
_HIGH = bytes(range(128, 256))
_LINE_ENDS = re.compile(r"\r\n|\r|\n")


class BadAddress(ValueError):
    """An address, URL or header the message cannot carry."""


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


def check_address(address: str) -> str:
    if "@" not in address or any(c in address for c in "\r\n<> ,\t"):
        raise BadAddress(f"not a plain email address: {address!r}")
    if not address.isascii():
        raise BadAddress(f"{address!r} is not ASCII: it needs SMTPUTF8, which is not supported")
    return address


def header_line(name: str, value: str) -> str:
    """`Name: value` CRLF, encoded (RFC 2047) and folded only when it must be."""
    if not _HEADER_NAME.match(name):
        raise BadAddress(f"bad header name {name!r}: printable ASCII without ':' or spaces")
    if "\r" in value or "\n" in value:
        raise BadAddress(f"header {name!r} has a line break in its value")
    if not value.isascii() or len(name) + 2 + len(value) > _FOLD_AT:
        charset = "us-ascii" if value.isascii() else "utf-8"
        value = Header(value, charset, header_name=name).encode(linesep="\r\n")
    return f"{name}: {value}\r\n"


def _body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, the encoded body with CRLF line ends)."""
    lines = _LINE_ENDS.split(text)
    if lines[-1] == "":
        lines.pop()
    data = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    if text.isascii() and max((len(line) for line in lines), default=0) <= _MAX_LINE:
        return "7bit", data
    high = len(data) - len(data.translate(None, _HIGH))
    if high * 3 > len(data):  # mostly not ASCII: base64 is the shorter
        encoded = binascii.b2a_base64(data, newline=False)
        rows = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
        return "base64", b"\r\n".join(rows) + b"\r\n"
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    return "quoted-printable", encoded if encoded.endswith(b"\r\n") else encoded + b"\r\n"


def _part(subtype: str, text: str) -> tuple[bytes, bytes]:
    """(the part's Content-* headers, its encoded body)."""
    cte, body = _body(text)
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return head.encode("ascii"), body


def build_message(
    rendered: Rendered,
    *,
    sender: str,
    recipient: str,
    msg_id: str,
    unsubscribe_url: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """The whole message (CRLF line ends, not dot-stuffed). BadAddress names what
    it cannot carry: an address, the URL, a header (one of ours given again, a
    bad name, a line break in a value)."""
    check_address(sender)
    check_address(recipient)
    lines = [
        header_line("From", sender),
        header_line("To", recipient),
        header_line("Subject", rendered.subject),
        header_line("Date", formatdate(localtime=False, usegmt=True)),
        header_line("Message-ID", msg_id),
    ]
    if unsubscribe_url is not None:
        lines.append(header_line("List-Unsubscribe", f"<{check_unsubscribe_url(unsubscribe_url)}>"))
        lines.append(header_line("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    for name, value in (headers or {}).items():
        if name.lower() in _OURS:
            raise BadAddress(f"header {name!r} is set by the connector; it cannot be given")
        lines.append(header_line(name, value))
    lines.append("MIME-Version: 1.0\r\n")
    head = "".join(lines).encode("ascii")
    text_head, text_body = _part("plain", rendered.text)
    if rendered.html is None:
        return head + text_head + b"\r\n" + text_body
    html_head, html_body = _part("html", rendered.html)
    boundary = _boundary(text_body + html_body)
    # Each delimiter's leading CRLF belongs to it (RFC 2046 5.1.1): the extra one
    # keeps each part's last line end.
    return b"".join([
        head, b'Content-Type: multipart/alternative; boundary="', boundary, b'"\r\n\r\n',
        b"--", boundary, b"\r\n", text_head, b"\r\n", text_body,
        b"\r\n--", boundary, b"\r\n", html_head, b"\r\n", html_body,
        b"\r\n--", boundary, b"--\r\n",
    ])  # fmt: skip


def _boundary(content: bytes) -> bytes:
    """A random boundary that occurs nowhere in the parts."""
    while True:
        boundary = f"=_chronoq_{secrets.token_hex(12)}".encode("ascii")
        if boundary not in content:
            return boundary
