"""The live updates' shared poller: 50 listeners cost Redis what one costs, a
delta reaches every listener, and no listener means no reads."""

from __future__ import annotations

import asyncio

from chronoq import App
from chronoq.web.live import LiveHub
from chronoq.web.state import DashboardState
from tests.web.test_pages import made_jobs


async def test_fifty_tabs_cost_what_one_costs(web_app: App) -> None:
    await made_jobs(web_app)
    state = DashboardState(web_app, redact=None, session_ttl=60, allowed_origins=())
    hub = LiveHub(state, interval=0.1)
    try:
        one = hub.subscribe("overview")
        first = await asyncio.wait_for(one.get(), 5)
        assert "queue-cards" in first and "mail" in first["queue-cards"]
        await asyncio.sleep(0.5)
        reads_one, computed_one = hub.reads, state.cache.computed
        tabs = [hub.subscribe("overview") for _ in range(49)]
        start_reads, start_computed = hub.reads, state.cache.computed
        await asyncio.sleep(0.5)
        # The same ticks with 50 listeners as with 1: reads grow with time, not tabs.
        assert hub.reads - start_reads <= reads_one + 2
        assert state.cache.computed - start_computed <= computed_one + 2
        async with web_app.client() as client:
            job = await client.enqueue("add", 1, 1)
        for tab in [one, *tabs]:  # each gets the delta (the waiting count changed)
            while True:
                update = await asyncio.wait_for(tab.get(), 5)
                if ">1</dd>" in update.get("queue-cards", ""):
                    break
        for tab in [one, *tabs]:
            hub.unsubscribe("overview", tab)
        feed = hub.subscribe("jobs")
        while job.id not in (await asyncio.wait_for(feed.get(), 5)).get("job-events", ""):
            pass
        hub.unsubscribe("jobs", feed)
        await asyncio.sleep(0.3)
        idle = hub.reads
        await asyncio.sleep(0.5)
        assert hub.reads == idle  # nobody listens: nothing read
    finally:
        await hub.close()
        await state.close()
