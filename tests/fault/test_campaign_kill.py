"""A campaign emailing 60 recipients through chronoq.connectors.email to a local
SMTP server (aiosmtpd), sent by three `chronoq worker` processes.

One worker is SIGKILLed while one of its sends sits between the final "." and the
250 (the server holds it there) and its other sends are mid-transaction: every
recipient receives the step exactly once at the server, except the sends the
ledger marks `uncertain`, which are never resent and are shown failed with their
reason; the campaign completes. And a campaign paused from another process
mid-send, then resumed from another: every recipient once, none while paused.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
import redis

from chronoq import App
from chronoq.campaigns import CampaignContext, Campaigns, CampaignState, CampaignView, campaigns
from chronoq.connectors.email import Phase, ledger_key
from chronoq.redis.keys import Keyspace
from tests.connectors.email.smtp_server import SmtpServerFixture
from tests.fault.campaign_app import STEP_TASK, build
from tests.fault.helpers import ONE_AT_A_TIME, ROOT, WorkerProcess, workers
from tests.servers.polling import wait_for
from tests.worker.helpers import wait_until

APP = "tests.fault.campaign_app:app"
NAME = "kill"
pytestmark = [ONE_AT_A_TIME, pytest.mark.timeout(240)]


def spec(count: int) -> dict[str, Any]:
    return {
        "name": NAME,
        "account": "acct",
        "steps": [{"name": "email", "task": STEP_TASK, "each": True}],
        "schedule": {"every": "1d"},
        "max_runs": 1,
        "recipients": [{"email": e, "name": e.split("@")[0]} for e in addresses(count)],
    }


def addresses(count: int) -> list[str]:
    return [f"r{i}@d{i % 7}.example" for i in range(count)]


def start_workers(
    started: list[WorkerProcess], raw: redis.Redis, redis_url: str, prefix: str, port: int,
    *, concurrency: int,
) -> None:  # fmt: skip
    env = {"CHRONOQ_TEST_SMTP_PORT": str(port), "CF_KEY": prefix, "CF_REDIS": redis_url,
           "CF_PAUSED_RETRY": "0.5", "CHRONOQ_WORKFLOW_SWEEP": "0.2"}  # fmt: skip
    for _ in range(3):
        started.append(WorkerProcess(redis_url, prefix, "--concurrency", str(concurrency),
                                     "--lease", "1", env=env, app=APP))  # fmt: skip
    keys = Keyspace(prefix)
    wait_for("three workers", lambda: raw.zcard(keys.workers) == 3, timeout=60)


async def finished(c: Campaigns, timeout: float) -> CampaignView:
    async def done() -> bool:
        view = await c.get(NAME)
        return view.runs > 0 and view.current_run is None

    await wait_until(done, timeout=timeout, interval=0.2)
    return await c.get(NAME)


def received(smtp: SmtpServerFixture) -> Counter[str]:
    """Messages the server accepted (its 250 sent), per recipient."""
    return Counter(rcpt.lower() for m in list(smtp.messages) for rcpt in m.rcpt_tos)


async def test_a_worker_killed_mid_send_leaves_each_recipient_emailed_once_or_uncertain(
    raw: redis.Redis, redis_url: str, prefix: str, smtp_server: SmtpServerFixture
) -> None:
    count = 60
    smtp_server.script.hold = "DOT"  # the first send to write its final "." waits for its 250
    smtp_server.script.delay = 0.2  # every RCPT: the sends around it are mid-transaction
    app = App("cmp-fault-test", redis_url=redis_url, prefix=prefix)
    mail = build(app, smtp_server.port, prefix, redis_url)
    emails = addresses(count)
    with workers() as started:
        start_workers(started, raw, redis_url, prefix, smtp_server.port, concurrency=4)
        async with campaigns(app) as c:
            await c.create(spec(count))
            await c.client.enqueue("chronoq.campaigns.run", NAME)
            wait_for("a send held after its final '.'", smtp_server.script.held.is_set, 60)
            (held,) = smtp_server.script.held_for
            key = ledger_key(CampaignContext.key_for(NAME, "email"), held)

            async def at_the_dot() -> bool:
                entry = await mail.ledger.get(key)
                return entry is not None and entry.state == Phase.DOT

            await wait_until(at_the_dot, timeout=10)
            starts = [str(s).split(":", 1) for s in raw.lrange(f"{prefix}:starts", 0, -1)]
            pid = int(next(p for p, e in reversed(starts) if e == held.lower()))
            (victim,) = [w for w in started if w.pid == pid]
            before_kill = received(smtp_server)
            victim.signal(signal.SIGKILL)
            victim.wait(5)
            view = await finished(c, timeout=150)
            starts = [str(s).split(":", 1) for s in raw.lrange(f"{prefix}:starts", 0, -1)]
            entries = {e: await mail.ledger.get(ledger_key(CampaignContext.key_for(NAME, "email"),
                                                           e)) for e in emails}  # fmt: skip
        for survivor in started:
            if survivor is not victim:
                assert survivor.alive(), survivor.output()[-3000:]
    got = received(smtp_server)
    uncertain = {e for e, entry in entries.items() if entry and entry.state == Phase.UNCERTAIN}
    assert held.lower() in uncertain  # its "." was written, no 250 recorded: not resent
    for email in emails:
        if email in uncertain:
            assert got[email] <= 1, (email, got[email])
        else:
            assert got[email] == 1, (email, got[email], entries[email])
            assert entries[email] is not None and entries[email].state == Phase.SENT  # type: ignore[union-attr]
    # The killed worker's other sends that had not reached the server when it died were
    # begun again by a survivor (and, checked above, none reached the server twice).
    by_victim = {e for p, e in starts if int(p) == pid} - {held.lower()}
    again = {e for p, e in starts if int(p) != pid} & by_victim
    cut_short = {e for e in by_victim if not before_kill.get(e) and e not in uncertain}
    assert cut_short <= again, (cut_short, again)
    step = view.steps[0]
    assert view.state is CampaignState.COMPLETED, view
    counted = (step.total, step.sent, step.failed)
    assert counted == (count, count - len(uncertain), len(uncertain)), step
    assert set(step.failures) == uncertain
    assert all("uncertain" in why and "not resent" in why for why in step.failures.values())


async def test_a_campaign_paused_and_resumed_from_other_processes_emails_each_once(
    raw: redis.Redis, redis_url: str, prefix: str, smtp_server: SmtpServerFixture
) -> None:
    count = 40
    smtp_server.script.delay = 1.0  # a send takes a second: the pause lands mid-send
    app = App("cmp-fault-test", redis_url=redis_url, prefix=prefix)
    build(app, smtp_server.port, prefix, redis_url)
    emails = addresses(count)

    def operator(action: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "tests.fault.campaign_control", action, NAME, redis_url,
             prefix], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.strip()

    with workers() as started:
        start_workers(started, raw, redis_url, prefix, smtp_server.port, concurrency=2)
        async with campaigns(app) as c:
            await c.create(spec(count))
            await c.client.enqueue("chronoq.campaigns.run", NAME)
            wait_for("six sends", lambda: sum(received(smtp_server).values()) >= 6, 60)
            paused = await asyncio.to_thread(operator, "pause")
            at_pause = sum(received(smtp_server).values())
            await asyncio.sleep(2.0)  # the sends already granted end; queued ones defer
            settled = sum(received(smtp_server).values())
            await asyncio.sleep(2.0)  # while paused, nothing more is sent
            still = sum(received(smtp_server).values())
            held = await c.get(NAME)
            resumed = await asyncio.to_thread(operator, "resume")
            view = await finished(c, timeout=150)
    got = received(smtp_server)
    assert paused == "paused" and held.state is CampaignState.PAUSED
    assert settled <= at_pause + 6, (at_pause, settled)  # 3 workers x 2 sends in flight
    assert still == settled < count, (settled, still)
    assert held.steps[0].deferred > 0 and held.next_send is not None
    assert resumed == "running"
    assert sorted(got) == sorted(emails) and set(got.values()) == {1}, got
    assert view.state is CampaignState.COMPLETED
    assert (view.steps[0].sent, view.steps[0].failed, view.steps[0].skipped) == (count, 0, 0)
