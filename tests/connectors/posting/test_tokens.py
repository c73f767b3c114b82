"""The token manager against the emulator's OAuth: refresh by remaining lifetime,
one refresh for concurrent callers, rotation (an old refresh token is refused with
invalid_grant), a token expiring mid-flow, and an interrupted refresh."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from chronoq import App, Client, JobStatus, Permanent, RateLimited
from chronoq.connectors.posting import (
    Poster,
    TikTokClient,
    TikTokEmulator,
    TokenManager,
    TokenSet,
)
from tests.connectors.posting.helpers import ended, schedule_now
from tests.connectors.posting.post_app import ACCOUNT, CLIENT_KEY, CLIENT_SECRET
from tests.worker.helpers import running_worker, wait_until


def expiring(tokens: TokenSet, seconds: float) -> TokenSet:
    return TokenSet(tokens.access_token, time.time() + seconds, tokens.refresh_token,
                    tokens.refresh_expires_at, tokens.open_id, tokens.scope)  # fmt: skip


def other_worker(
    app: App, tiktok: TikTokEmulator, timeout: float = 20, lock_ttl: float = 30
) -> TokenManager:
    """Another process's manager: its own App on the same Redis and prefix."""
    twin = App("twin", redis_url=app.settings.redis_url, prefix=app.settings.prefix)
    api = TikTokClient(tiktok.url, CLIENT_KEY, CLIENT_SECRET, timeout=timeout)
    return TokenManager(twin, api, lock_ttl=lock_ttl)


async def test_a_token_is_refreshed_only_when_less_than_the_margin_is_left(
    poster: Poster, tiktok: TikTokEmulator
) -> None:
    stored = await poster.tokens.get(ACCOUNT)
    assert stored is not None
    assert await poster.tokens.access_token(ACCOUNT) == stored.access_token  # a day left
    await poster.tokens.store(ACCOUNT, expiring(stored, 299))  # under 5 min
    fresh = await poster.tokens.access_token(ACCOUNT)
    assert fresh != stored.access_token and tiktok.platform.count("token") == 1
    now = await poster.tokens.get(ACCOUNT)
    assert now is not None and now.refresh_token != stored.refresh_token  # rotated, kept
    assert await poster.tokens.access_token(ACCOUNT) == fresh  # no second refresh
    assert tiktok.platform.count("token") == 1


async def test_concurrent_refreshes_send_one_and_share_its_tokens(
    app: App, poster: Poster, tiktok: TikTokEmulator
) -> None:
    stored = await poster.tokens.get(ACCOUNT)
    assert stored is not None
    await poster.tokens.store(ACCOUNT, expiring(stored, 10))
    tiktok.platform.refresh_delay = 0.4
    managers = [poster.tokens, other_worker(app, tiktok), other_worker(app, tiktok)]
    try:
        got = await asyncio.gather(*(m.access_token(ACCOUNT) for m in managers))
    finally:
        for manager in managers[1:]:
            await manager.api.aclose()
    assert len(set(got)) == 1
    assert tiktok.platform.count("token") == 1
    assert tiktok.platform.count("token", status=400) == 0  # no rotated-out token was sent
    assert sum(m.refreshes for m in managers) == 1


async def test_a_rotated_out_refresh_token_is_permanent_with_a_clear_reason(
    app: App, client: Client, poster: Poster, tiktok: TikTokEmulator, video: str
) -> None:
    stored = await poster.tokens.get(ACCOUNT)
    assert stored is not None
    elsewhere = TikTokClient(tiktok.url, CLIENT_KEY, CLIENT_SECRET)
    try:
        await elsewhere.refresh(stored.refresh_token)  # another install rotated it
    finally:
        await elsewhere.aclose()
    await poster.tokens.store(ACCOUNT, expiring(stored, 0))
    with pytest.raises(Permanent, match=r"invalid_grant.*authorize the app again"):
        await poster.tokens.access_token(ACCOUNT)
    entry = await poster.tokens.ledger.get(ACCOUNT)
    assert entry is not None and entry.state.startswith("revoked:")
    with pytest.raises(Permanent, match="invalid_grant"):
        await poster.tokens.access_token(ACCOUNT)  # refused at once, nothing sent
    assert tiktok.platform.count("token") == 2  # ours once (the other install's first)

    job_id = await schedule_now(poster, "after-revoke", video)
    async with running_worker(app, queues="posting", idle_wait=0.1):
        job = await ended(client, job_id)
    assert job.status is JobStatus.DEAD and "invalid_grant" in (job.error or "")
    assert tiktok.platform.count("init") == 0

    await poster.tokens.store(ACCOUNT, tiktok.platform.authorize(ACCOUNT))  # consent again
    assert await poster.tokens.access_token(ACCOUNT)


async def test_an_access_token_expiring_mid_flow_is_refreshed_and_the_call_repeated(
    app: App, client: Client, poster: Poster, tiktok: TikTokEmulator, video: str
) -> None:
    hold = tiktok.hold_chunk(1, after_store=True)
    job_id = await schedule_now(poster, "mid-flow", video)
    async with running_worker(app, queues="posting", idle_wait=0.1):
        assert await asyncio.to_thread(hold.reached.wait, 20)
        tiktok.platform.expire_access_tokens()  # during the upload
        hold.release.set()
        job = await ended(client, job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.attempts == 1 and tiktok.platform.count("token") == 1
    (attempt,) = await poster.attempts("mid-flow")
    status_calls = [(c.status, c.code) for c in attempt.calls if c.endpoint == "status"]
    assert status_calls[0] == (401, "access_token_invalid") and status_calls[1] == (200, "ok")
    assert len(tiktok.platform.published()) == 1


async def test_a_refresh_whose_reply_was_lost_defers_then_names_the_refusal(
    app: App, poster: Poster, tiktok: TikTokEmulator
) -> None:
    stored = await poster.tokens.get(ACCOUNT)
    assert stored is not None
    await poster.tokens.store(ACCOUNT, expiring(stored, 0))
    tiktok.platform.refresh_delay = 1.0
    impatient = other_worker(app, tiktok, timeout=0.2, lock_ttl=0.5)
    try:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.access_token(ACCOUNT)  # sent; the platform rotates, unheard
        entry = await poster.tokens.ledger.get(ACCOUNT)
        assert entry is not None and entry.state.startswith("refreshing:")
        tiktok.platform.refresh_delay = 0.0
        with pytest.raises(RateLimited, match="may still be in flight"):
            await impatient.access_token(ACCOUNT)  # within two leases: not sent again
        assert tiktok.platform.count("token", status=400) == 0

        async def rotated() -> bool:  # the platform finished that refresh: the token is dead
            return tiktok.platform.accounts[ACCOUNT].refresh_token != stored.refresh_token

        await wait_until(rotated, timeout=10)

        async def refused_for_good() -> bool:
            try:
                await impatient.access_token(ACCOUNT)
            except RateLimited:
                return False
            except Permanent as exc:
                assert "earlier refresh was interrupted" in str(exc)
                return True
            raise AssertionError("the rotated-out token was accepted")

        await wait_until(refused_for_good, timeout=10, interval=0.2)
    finally:
        await impatient.api.aclose()
    assert tiktok.platform.count("token", status=400) == 1  # sent once, after the window


async def test_a_holder_that_lost_its_lock_mid_refresh_is_never_raced_with_its_token(
    app: App, poster: Poster, tiktok: TikTokEmulator
) -> None:
    stored = await poster.tokens.get(ACCOUNT)
    assert stored is not None
    await poster.tokens.store(ACCOUNT, expiring(stored, 0))
    tiktok.platform.refresh_delay = 0.6
    slow = asyncio.create_task(poster.tokens.access_token(ACCOUNT))

    async def in_flight() -> bool:
        entry = await poster.tokens.ledger.get(ACCOUNT)
        return entry is not None and entry.state.startswith("refreshing:")

    await wait_until(in_flight, timeout=10)
    async with app.lock_admin() as admin:  # the holder's lease is gone (a stall, a failover)
        await admin.force_release(f"posting-token:{ACCOUNT}")
    other = other_worker(app, tiktok)
    try:
        with pytest.raises(RateLimited, match="may still be in flight"):
            await other.access_token(ACCOUNT)  # took the lock, but does not send
        fresh = await slow
        assert await other.access_token(ACCOUNT) == fresh  # the first holder's result
    finally:
        await other.api.aclose()
    assert tiktok.platform.count("token") == 1 and other.refreshes == 0
