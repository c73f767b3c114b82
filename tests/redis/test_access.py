from __future__ import annotations

from chronoq import App
from chronoq.core.access import AuditEntry, Role


async def test_tokens_verify_until_revoked(app: App) -> None:
    async with app.backend() as backend:
        store = backend.access
        record, visible = await store.create_token("deploy", Role.OPERATE)
        assert await store.verify(visible) == record
        assert await store.verify(visible + "0") is None
        other, _ = await store.create_token("", Role.READ)
        assert {r.id for r in await store.tokens()} == {record.id, other.id}
        assert [r.id for r in await store.revoke("deploy")] == [record.id]
        assert await store.verify(visible) is None
        assert [r.id for r in await store.tokens()] == [other.id]


async def test_the_audit_log_pages_newest_first(app: App) -> None:
    async with app.backend() as backend:
        store = backend.access
        for n in range(5):
            await store.record(AuditEntry("ops", "jobs.retry", target=f"j{n}", count=n))
        first = await store.audit(limit=3)
        assert [e.target for e in first] == ["j4", "j3", "j2"]
        assert all(e.at_ms > 1_600_000_000_000 for e in first)
        rest = await store.audit(limit=3, before=first[-1].id)
        assert [e.target for e in rest] == ["j1", "j0"]


async def test_sessions_end_with_their_token_or_at_logout(app: App) -> None:
    async with app.backend() as backend:
        store = backend.access
        record, _ = await store.create_token("ops", Role.OPERATE)
        one = await store.create_session(record, ttl=60)
        two = await store.create_session(record, ttl=60)
        found = await store.session(one.id)
        assert found is not None and found[1] == record and found[0].csrf == one.csrf
        forged = one.id[:-1] + ("1" if one.id.endswith("0") else "0")
        assert await store.session(forged) is None
        assert await store.session("junk") is None
        await store.drop_session(one.id)
        assert await store.session(one.id) is None
        assert await store.session(two.id) is not None
        await store.revoke("ops")
        assert await store.session(two.id) is None
        assert not await backend.redis.exists(backend.keys.access.session(two.id))
