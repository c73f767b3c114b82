"""Workers evaluate the alert rules in a supervised loop; with two of them one
notification per firing, and their heartbeats carry their RSS."""

from __future__ import annotations

import asyncio
import json

from chronoq import App, JobRequest
from chronoq.core.alerts import WebhookChannel
from tests.observe.alert_servers import Receiver
from tests.worker.helpers import running_worker, wait_until


async def test_two_workers_notify_a_firing_once(app: App, receiver: Receiver) -> None:
    receiver.statuses[:] = []
    app.alert_rule("len", "queue_length", threshold=0, pending=0, channels=["hook"])
    app.alert_channel(WebhookChannel("hook", receiver.url, "k"))
    async with app.client() as client:
        await client.submit(JobRequest("t", queue="mail", delay=0, force=True))
        # The workers serve another queue: the job stays waiting.
        options = {"queues": "other", "alert_interval": 0.05, "heartbeat": 0.2}
        async with running_worker(app, **options), running_worker(app, **options):

            async def notified() -> bool:
                return any(json.loads(b)["rule"] == "len" for _, b in receiver.requests)

            await wait_until(notified, timeout=10)
            snapshot = await client.backend.snapshots.read()
            await asyncio.sleep(0.3)  # more rounds of both: a second notification would show
    sent = [json.loads(b) for _, b in receiver.requests]
    assert [(s["rule"], s["event"]) for s in sent if s["rule"] == "len"] == [("len", "firing")]
    assert all(int(w.info["rss"]) > 0 for w in snapshot.workers if w.alive)
