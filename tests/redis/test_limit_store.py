"""Limits declared in code meet limits changed by operators."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from chronoq import App
from chronoq.core.limits import Limit, Period


async def test_code_declarations_do_not_clobber_runtime_changes(app: App) -> None:
    declared = Limit("api", 10, Period.SECOND)
    async with app.backend() as backend:
        store = backend.limits
        assert await store.sync_declared([declared]) == ["api"]
        await store.set(Limit("api", 3, Period.SECOND))  # an operator slows it down
        assert await store.sync_declared([declared]) == []  # a restart keeps that
        assert (await store.get("api")).limit == 3
        edited = Limit("api", 20, Period.SECOND)  # the code's declaration changed
        assert await store.sync_declared([edited]) == ["api"]
        assert (await store.get("api")).limit == 20
        await store.set(Limit("api", 1, Period.SECOND))
        assert await store.sync_declared([edited], overwrite=True) == ["api"]
        assert (await store.get("api")).limit == 20


async def test_workers_starting_together_store_a_declaration_once(app: App) -> None:
    """A second write would bump the version, and a new version resets every key's
    pacing: starts the first worker had booked would be granted again (over the rate)."""
    declared = Limit("api", 20, Period.SECOND)
    async with AsyncExitStack() as stack:
        stores = [(await stack.enter_async_context(app.backend())).limits for _ in range(4)]
        written = await asyncio.gather(*(s.sync_declared([declared]) for s in stores))
        assert sorted(written) == [[], [], [], ["api"]]
        assert await stores[0].versioned("api") == (declared, "1")


def test_declarations_are_checked_where_they_are_written(app: App) -> None:
    limit = app.limit("a", "10/s", burst=2, windows=["mon-fri 09:00-18:00"], tz="Europe/Paris")
    assert (limit.limit, limit.burst, limit.tz) == (10, 2, "Europe/Paris")
    assert app.quota("q", 100).tz == "UTC"  # the app's zone by default
    with pytest.raises(ValueError, match="declared twice"):
        app.limit("a", "20/s")
    with pytest.raises(ValueError, match="bad rate"):
        app.limit("b", "fast")
    with pytest.raises(ValueError, match="counts per account: give the task an account"):
        app.task(quota="q")(lambda: None)
    with pytest.raises(ValueError, match="rate_key needs a rate_limit"):
        app.task(rate_key="{x}")(lambda x: None)
