"""ETags on the GET of editable resources, If-Match on their edits.

An ETag is a digest of the resource's JSON form, so it changes whenever what a
GET shows changes. An edit (PUT, PATCH, DELETE) sent with If-Match applies only
if the resource is still what the client saw: 412 otherwise (lost updates between
two operators are refused, not merged). Without If-Match the edit applies.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request, Response

from chronoq.api.problems import ProblemError


def etag_of(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


def tagged(response: Response, data: Any) -> Any:
    """Set the response's ETag for `data`; returns `data`."""
    response.headers["ETag"] = etag_of(data)
    return data


def check_if_match(request: Request, current: Any | None) -> None:
    """412 unless If-Match (if sent) names the current ETag (`*`: any that exists;
    `current` None: the resource does not exist)."""
    header = request.headers.get("if-match")
    if header is None:
        return
    wanted = [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]
    if current is None:
        if wanted:
            raise ProblemError(412, "If-Match was sent, but the resource does not exist")
        return
    if "*" in wanted or etag_of(current) in wanted:
        return
    raise ProblemError(
        412,
        "the resource changed since it was read (If-Match does not name its ETag); "
        "GET it again and retry",
        etag=etag_of(current),
    )
