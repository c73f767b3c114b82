"""Bearer tokens and roles: who is asking, and may they.

A token (`chronoq tokens create --role read|operate|admin`) is checked with one
HGET per request, pipelined with its rate limit's decision (`chronoq.api.meter`:
over it, 429 with Retry-After). No token or an unknown, revoked or
malformed one: 401 with `WWW-Authenticate: Bearer`; a token whose role is below
the route's: 403 naming the role needed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chronoq.api.problems import ProblemError
from chronoq.api.state import api_state, backend_of
from chronoq.core.access import Role, TokenRecord

bearer = HTTPBearer(auto_error=False, description="A chronoq API token: `chronoq tokens create`")
REALM = 'Bearer realm="chronoq"'


@dataclass(frozen=True, slots=True)
class Principal:
    """The token behind a request: its name is the audit log's actor."""

    name: str
    role: Role
    token_id: str

    @classmethod
    def of(cls, record: TokenRecord) -> Principal:
        return cls(record.name, record.role, record.id)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def principal(request: Request, credentials: Credentials) -> Principal:
    if credentials is None or not credentials.credentials:
        raise ProblemError(401, "this needs a bearer token (Authorization: Bearer cq_...)",
                           headers={"WWW-Authenticate": REALM})  # fmt: skip
    record = await api_state(request).meter.verify(backend_of(request), credentials.credentials)
    if record is None:
        raise ProblemError(
            401,
            "the bearer token is unknown, revoked or malformed",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    return Principal.of(record)


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the principal, if its role allows `role`; else 403."""

    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.role.allows(role):
            raise ProblemError(
                403,
                f"this needs the {role.value} role; token {who.name!r} has {who.role.value}",
                needed_role=role.value,
            )
        return who

    return check


Reader = Depends(require(Role.READ))
Operator = Depends(require(Role.OPERATE))
Admin = Depends(require(Role.ADMIN))
