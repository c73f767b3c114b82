"""Opaque cursors for the pages that have no cursor of their own (the audit log):
the job searches' cursors come from chronoq.observe.search already."""

from __future__ import annotations

import base64
import binascii
import json
import re

from chronoq.api.problems import ProblemError

_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


def encode(kind: str, position: str) -> str:
    raw = json.dumps([kind, position]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(kind: str, text: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        found, position = json.loads(raw)
        if found != kind or not isinstance(position, str):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ProblemError(
            422, "not a cursor this listing returned", field="query.cursor"
        ) from None
    if kind == "audit" and not _STREAM_ID.match(position):
        raise ProblemError(422, "not a cursor this listing returned", field="query.cursor")
    return position
