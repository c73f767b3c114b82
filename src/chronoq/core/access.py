"""Who may do what through the HTTP API and the dashboard: roles, API tokens and
audit entries. Pure: `chronoq.redis.access` stores them.

A token is shown once, when it is made, and stored only as a SHA-256 digest: it has
192 random bits, so a digest (not a slow password hash) is enough, and checking it
costs a microsecond per request. Its visible form is `cq_<id>_<secret>`; the id
finds the record without scanning, the secret proves it.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from chronoq.core.errors import ConfigurationError

TOKEN_PREFIX = "cq_"
_ID_BYTES = 6
_SECRET_BYTES = 24


class Role(enum.Enum):
    """What a token may do; each role includes the ones before it."""

    READ = "read"  # every view and GET
    OPERATE = "operate"  # plus enqueue, cancel, retry, requeue, pause, trigger, silence
    ADMIN = "admin"  # plus delete, purge, limits and schedules CRUD, tokens, channels

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.READ: 0, Role.OPERATE: 1, Role.ADMIN: 2}


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise ConfigurationError(f"unknown role {text!r}: choose one of {choices}") from None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token as stored: never the secret, only its digest."""

    id: str
    name: str
    role: Role
    digest: str
    created_ms: int

    def to_json(self) -> str:
        data = {"name": self.name, "role": self.role.value, "digest": self.digest}
        return json.dumps({**data, "created_ms": self.created_ms})

    @classmethod
    def from_json(cls, token_id: str, text: str | bytes) -> TokenRecord:
        data = json.loads(text)
        return cls(token_id, data["name"], Role(data["role"]), data["digest"], data["created_ms"])

    def public(self) -> dict[str, Any]:
        """What listings show: everything but the digest."""
        return {"id": self.id, "name": self.name, "role": self.role.value,
                "created_ms": self.created_ms}  # fmt: skip


def new_token(name: str, role: Role, now_ms: int) -> tuple[TokenRecord, str]:
    """A new token: its record (to store) and its visible form (to print once)."""
    token_id = os.urandom(_ID_BYTES).hex()
    secret = os.urandom(_SECRET_BYTES).hex()
    visible = f"{TOKEN_PREFIX}{token_id}_{secret}"
    return TokenRecord(token_id, name or token_id, role, digest_of(visible), now_ms), visible


def digest_of(visible: str) -> str:
    return hashlib.sha256(visible.encode()).hexdigest()


def token_id_of(visible: str) -> str | None:
    """The id inside a visible token, or None when it is not shaped like one."""
    if not visible.startswith(TOKEN_PREFIX):
        return None
    token_id, sep, secret = visible[len(TOKEN_PREFIX) :].partition("_")
    if not sep or len(token_id) != _ID_BYTES * 2 or len(secret) != _SECRET_BYTES * 2:
        return None
    return token_id


def matches(record: TokenRecord, visible: str) -> bool:
    """Constant-time comparison of a presented token with the stored digest."""
    return hmac.compare_digest(record.digest, digest_of(visible))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One state change made through the API, the dashboard or the CLI: who did
    what to what, with the filter and the number of jobs it touched."""

    actor: str  # token name, or "cli"
    action: str  # e.g. "jobs.retry", "schedules.pause", "tokens.create"
    target: str = ""  # a job id, schedule name, limit name, ... ('' for bulk)
    filter: str = ""  # the filter of a bulk action, as given
    count: int = 0  # jobs (or records) changed
    detail: dict[str, Any] = field(default_factory=dict)
    at_ms: int = 0  # server time, set when stored
    id: str = ""  # the stream entry id, set when read

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("id")
        return json.dumps(data, default=str)

    @classmethod
    def from_json(cls, entry_id: str, text: str | bytes) -> AuditEntry:
        data = json.loads(text)
        return cls(id=entry_id, **data)


@dataclass(frozen=True, slots=True)
class Session:
    """A dashboard login: the token it was opened with and the form token every
    unsafe request of the session must carry (CSRF). The id starts with the token's
    id, so one round trip reads the session and checks the token still exists."""

    id: str
    token_id: str
    csrf: str
    created_ms: int

    def to_json(self) -> str:
        data = {"token": self.token_id, "csrf": self.csrf}
        return json.dumps({**data, "created_ms": self.created_ms})

    @classmethod
    def from_json(cls, session_id: str, text: str | bytes) -> Session:
        data = json.loads(text)
        return cls(session_id, str(data["token"]), str(data["csrf"]), int(data["created_ms"]))


def new_session(token_id: str, now_ms: int) -> Session:
    secret = os.urandom(_SECRET_BYTES).hex()
    return Session(f"{token_id}.{secret}", token_id, os.urandom(_SECRET_BYTES).hex(), now_ms)


def session_token_id(session_id: str) -> str | None:
    """The token id a session id starts with, or None when it is not shaped like one."""
    token_id, sep, secret = session_id.partition(".")
    if not sep or len(token_id) != _ID_BYTES * 2 or len(secret) != _SECRET_BYTES * 2:
        return None
    if not all(c in "0123456789abcdef" for c in token_id + secret):
        return None
    return token_id
