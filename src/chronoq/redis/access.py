"""API tokens and the audit log in Redis (keys.py `AccessKeys`).

Tokens are one HASH (id -> record JSON with the secret's digest): checking a
request costs one HGET. The audit log is a capped STREAM: appends are O(1), the
entry id is the server's time, and readers page backwards with an opaque cursor.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple, cast

from redis.exceptions import ResponseError

from chronoq.core.access import (
    AuditEntry,
    Role,
    Session,
    TokenRecord,
    matches,
    new_session,
    new_token,
    session_token_id,
    token_id_of,
)
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import ScriptCall, load_library, missing_library

AUDIT_MAXLEN = 100_000  # audit entries kept (the newest), trimmed approximately


class Checked(NamedTuple):
    """A token checked along with a script call."""

    record: TokenRecord | None  # None: unknown, revoked, malformed or a wrong secret
    known: bool  # a token with the presented id exists (whatever the secret)
    reply: list[Any]  # the script's reply


class AccessStore:
    def __init__(self, redis: AsyncRedis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace.access

    # -- tokens -------------------------------------------------------------

    async def create_token(self, name: str, role: Role) -> tuple[TokenRecord, str]:
        """Store a new token; returns its record and its visible form (shown once)."""
        now_ms = await self._now_ms()
        while True:  # a 48-bit id collides about never; HSETNX makes sure
            record, visible = new_token(name, role, now_ms)
            if await self.redis.hsetnx(self.keys.tokens, record.id, record.to_json()):
                return record, visible

    async def verify(self, visible: str) -> TokenRecord | None:
        """The record of a presented token, or None when it is unknown, revoked or
        malformed."""
        token_id = token_id_of(visible)
        if token_id is None:
            return None
        raw = await self.redis.hget(self.keys.tokens, token_id)
        if raw is None:
            return None
        record = TokenRecord.from_json(token_id, raw)
        return record if matches(record, visible) else None

    async def verify_with(self, visible: str, call: ScriptCall) -> Checked:
        """`verify`, with one script call sent in the same round trip (the HTTP
        API's per-token rate limit).
        A server without the script library is sent it and both are asked again
        (the read is idempotent; the caller's script must be safe to resend)."""
        token_id = token_id_of(visible)
        script, keys, args = call
        for attempt in range(2):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hget(self.keys.tokens, token_id or "")
                script.queue(pipe, keys, args)
                try:
                    raw, reply = await pipe.execute()
                except ResponseError as exc:
                    if attempt or not missing_library(exc):
                        raise
                    await load_library(self.redis)
                    continue
            if token_id is None or raw is None:
                return Checked(None, False, list(reply))
            record = TokenRecord.from_json(token_id, raw)
            return Checked(record if matches(record, visible) else None, True, list(reply))
        raise AssertionError("unreachable")

    async def tokens(self) -> list[TokenRecord]:
        stored = await self.redis.hgetall(self.keys.tokens)
        records = [TokenRecord.from_json(_text(k), v) for k, v in stored.items()]
        return sorted(records, key=lambda r: (r.created_ms, r.id))

    async def revoke(self, token_id_or_name: str) -> list[TokenRecord]:
        """Revoke the token with this id (or every token with this name); returns
        what was revoked."""
        found = [r for r in await self.tokens() if token_id_or_name in (r.id, r.name)]
        if found:
            await self.redis.hdel(self.keys.tokens, *[r.id for r in found])
            for record in found:  # its sessions end with it (they check it anyway)
                await self._drop_sessions(record.id)
        return found

    # -- dashboard sessions -------------------------------------------------

    async def create_session(self, record: TokenRecord, ttl: float) -> Session:
        """Open a session for a verified token, expiring after `ttl` seconds."""
        session = new_session(record.id, await self._now_ms())
        ttl_ms = max(1, int(ttl * 1000))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.session(session.id), session.to_json(), px=ttl_ms)
            pipe.sadd(self.keys.sessions(record.id), session.id)
            pipe.pexpire(self.keys.sessions(record.id), ttl_ms, gt=True)
            pipe.pexpire(self.keys.sessions(record.id), ttl_ms, nx=True)
            await pipe.execute()
        return session

    async def session(self, session_id: str) -> tuple[Session, TokenRecord] | None:
        """The session and its token, or None when it expired, was dropped, or its
        token was revoked: one round trip (the id names its token)."""
        token_id = session_token_id(session_id)
        if token_id is None:
            return None
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.session(session_id))
            pipe.hget(self.keys.tokens, token_id)
            raw_session, raw_token = await pipe.execute()
        if raw_session is None or raw_token is None:
            return None
        session = Session.from_json(session_id, raw_session)
        if session.token_id != token_id:
            return None
        return session, TokenRecord.from_json(token_id, raw_token)

    async def drop_session(self, session_id: str) -> None:
        """Log out: the session ends now."""
        token_id = session_token_id(session_id)
        if token_id is None:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.session(session_id))
            pipe.srem(self.keys.sessions(token_id), session_id)
            await pipe.execute()

    async def _drop_sessions(self, token_id: str) -> None:
        ids = [_text(i) for i in await self.redis.smembers(self.keys.sessions(token_id))]
        keys = [self.keys.session(i) for i in ids]
        await self.redis.delete(self.keys.sessions(token_id), *keys)

    # -- audit log ----------------------------------------------------------

    async def record(self, entry: AuditEntry) -> str:
        """Append an entry; returns its id (its time is the id's milliseconds)."""
        entry_id = await self.redis.xadd(
            self.keys.audit, {"e": entry.to_json()}, maxlen=AUDIT_MAXLEN, approximate=True
        )
        return _text(entry_id)

    async def audit(self, *, limit: int = 50, before: str | None = None) -> list[AuditEntry]:
        """The newest entries first; `before`: an entry id from the previous page."""
        high = f"({before}" if before else "+"
        rows = cast(
            list[tuple[str, dict[str, str]]],
            await self.redis.xrevrange(self.keys.audit, max=high, min="-", count=limit),
        )
        return [_entry(entry_id, fields) for entry_id, fields in rows]

    async def _now_ms(self) -> int:
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000


def _entry(entry_id: str, fields: dict[str, str]) -> AuditEntry:
    entry = AuditEntry.from_json(entry_id, fields.get("e", "{}"))
    return replace(entry, at_ms=int(entry_id.split("-", 1)[0]))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
