"""Every state change made through the API is written to the audit log, with the
token's name as the actor."""

from __future__ import annotations

from typing import Any

from chronoq.api.auth import Principal
from chronoq.core.access import AuditEntry
from chronoq.redis.backend import Backend


async def audit(
    backend: Backend,
    who: Principal,
    action: str,
    target: str = "",
    *,
    count: int = 1,
    filter: str = "",
    **detail: Any,
) -> None:
    entry = AuditEntry(who.name, action, target, filter, count, {"via": "api", **detail})
    await backend.access.record(entry)
