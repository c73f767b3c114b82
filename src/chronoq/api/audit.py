"""Every state change made through the API is written to the audit log, with the
token's name as the actor: one entry per request (a bulk operation's entries are
the library's, `chronoq.bulk`). Each state-changing route says which action it
writes in its OpenAPI operation (`x-audit`), or why it writes none
(`x-audit-exempt`); tests/api/test_audit_coverage.py checks every one."""

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


def audited(action: str, *, by_library: bool = False) -> dict[str, Any]:
    """A route's `openapi_extra`: the audit action it writes (`by_library`: the
    library writes it, as for bulk operations; the route must not)."""
    extra: dict[str, Any] = {"x-audit": action}
    if by_library:
        extra["x-audit-by"] = "library"
    return extra


def exempt(reason: str) -> dict[str, Any]:
    """A non-GET route's `openapi_extra` when it changes no state: why."""
    return {"x-audit-exempt": reason}
