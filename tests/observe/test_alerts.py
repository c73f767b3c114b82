"""The alert engine: with two evaluators, each rule fires once and resolves once;
pending periods, cooldowns and silences; signed webhooks with retries and the
delivery log; email over SMTP; the health check's alerts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chronoq import App, JobRequest
from chronoq.core.alerts import AlertRule, EmailChannel, RuleKind, WebhookChannel
from chronoq.observe.alerts import AlertEngine, StoredAlerts
from chronoq.observe.health import Level, check_health
from chronoq.redis.alerts import Transition
from chronoq.redis.backend import Backend
from tests.observe.alert_servers import Inbox, Receiver

SECRET = "s3cret"


@pytest.fixture
async def engines(app: App) -> AsyncIterator[list[AlertEngine]]:
    """Two evaluators, each on connections of its own (as two processes would be)."""
    backends = [app.backend(), app.backend()]
    made = [
        AlertEngine(b, rules=app.declared_alert_rules, channels=app.declared_alert_channels)
        for b in backends
    ]
    yield made
    for backend in backends:
        await backend.close()


async def round_of(engines: list[AlertEngine], rule: str | None) -> list[Transition]:
    """Both evaluators at once; the transitions they notified for `rule` (None: all)."""
    results = await asyncio.gather(*(e.evaluate() for e in engines))
    return [t for won in results for t in won if rule is None or t.observation.rule == rule]


async def enqueue(app: App, n: int, queue: str = "mail") -> None:
    async with app.client() as client:
        for i in range(n):
            await client.submit(JobRequest("t", [i], queue=queue, force=True))


RULES = [
    AlertRule("len", RuleKind.QUEUE_LENGTH, threshold=2, pending=0),
    AlertRule("age", RuleKind.OLDEST_JOB_AGE, threshold=0, pending=0),
    AlertRule("idle", RuleKind.NO_CONSUMERS, pending=0, level="critical"),
]


@pytest.mark.parametrize("rule", RULES, ids=[r.kind.value for r in RULES])
async def test_each_rule_fires_once_and_resolves_once_with_two_evaluators(
    app: App, engines: list[AlertEngine], rule: AlertRule
) -> None:
    async with app.alerts() as alerts:
        await alerts.add_rule(rule)
    await enqueue(app, 3)
    await asyncio.sleep(0.01)  # the oldest job has an age
    fired = await round_of(engines, rule.name)
    assert [(t.action, t.observation.subject) for t in fired] == [("fire", "mail")]
    for _ in range(3):
        assert await round_of(engines, rule.name) == []
    async with app.alerts() as alerts:  # the condition ends: here, the rule is turned off
        await alerts.add_rule(AlertRule(rule.name, rule.kind, enabled=False))
    resolved = await round_of(engines, rule.name)
    assert [(t.action, t.observation.subject) for t in resolved] == [("resolve", "mail")]
    assert await round_of(engines, rule.name) == []


async def test_dead_growth_from_the_counters_over_the_window(
    app: App, engines: list[AlertEngine], raw: Any, prefix: str
) -> None:
    async with app.alerts() as alerts:
        await alerts.add_rule(AlertRule("deaths", RuleKind.DEAD_GROWTH, threshold=1, pending=0))
    stats = app.backend().keys.queue("mail").stats
    raw.sadd(f"{prefix}:{{~}}:queues", "mail")
    raw.hset(stats, mapping={"succeeded": 10, "dead": 0})
    assert await round_of(engines, "deaths") == []  # the baseline
    raw.hincrby(stats, "dead", 3)
    raw.hincrby(stats, "succeeded", 1)
    deaths = await round_of(engines, "deaths")
    assert [(t.action, t.observation.value) for t in deaths] == [("fire", 3)]
    assert await round_of(engines, "deaths") == []


async def test_pending_period_is_respected(app: App, engines: list[AlertEngine]) -> None:
    app.alert_rule("len", "queue_length", threshold=0, pending=0.4)
    await enqueue(app, 1)
    assert await round_of(engines, "len") == []
    async with app.alerts() as alerts:
        assert [s.state for s in await alerts.states() if s.rule == "len"] == ["pending"]
    await asyncio.sleep(0.45)
    assert [t.action for t in await round_of(engines, "len")] == ["fire"]


async def test_cooldown_and_silence_suppress_notifications(
    app: App, engines: list[AlertEngine]
) -> None:
    app.alert_rule("len", "queue_length", threshold=0, pending=0, cooldown=3600)
    await enqueue(app, 1)
    assert [t.action for t in await round_of(engines, "len")] == ["fire"]
    async with app.alerts() as alerts:
        await alerts.add_rule(AlertRule("len", RuleKind.QUEUE_LENGTH, threshold=5, pending=0))
    assert [t.action for t in await round_of(engines, "len")] == ["resolve"]
    async with app.alerts() as alerts:  # breached again within the cooldown: quiet
        await alerts.add_rule(
            AlertRule("len", RuleKind.QUEUE_LENGTH, threshold=0, pending=0, cooldown=3600)
        )
        assert await round_of(engines, "len") == []
        states = [s for s in await alerts.states() if s.rule == "len"]
        assert [(s.state, s.notified) for s in states] == [("firing", False)]
        # A silence: nothing sent once the cooldown is over either, and health is quiet.
        await alerts.add_rule(
            AlertRule("len", RuleKind.QUEUE_LENGTH, threshold=0, pending=0, cooldown=0)
        )
        silence = await alerts.silence("len", 60, "deploying")
        assert silence.reason == "deploying"
        assert await round_of(engines, "len") == []
        firing = await StoredAlerts(alerts.store).firing()
        assert "len:mail" not in [a.name for a in firing]
        assert await alerts.unsilence("len")
        assert [t.action for t in await round_of(engines, "len")] == ["fire"]
        firing = await StoredAlerts(alerts.store).firing()
        assert "len:mail" in [a.name for a in firing]


# -- webhooks ------------------------------------------------------------------


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: recompute the HMAC of 'timestamp.body' and compare."""
    stamp = headers["X-Chronoq-Timestamp"]
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    given = headers["X-Chronoq-Signature"]
    fresh = abs(time.time() - int(stamp)) < 300
    return fresh and hmac.compare_digest(given, "sha256=" + expected.hexdigest())


async def test_webhook_is_signed_retried_after_a_500_and_logged(
    app: App, engines: list[AlertEngine], receiver: Receiver
) -> None:
    app.alert_rule("idle", "no_consumers", pending=0, level="critical", channels=["hook"])
    app.alert_channel(WebhookChannel("hook", receiver.url, SECRET, backoff=0.05))
    await enqueue(app, 1)
    assert [t.action for t in await round_of(engines, "idle")] == ["fire"]
    assert len(receiver.requests) == 2  # a 500, then the retry accepted
    for headers, body in receiver.requests:
        assert verify(SECRET, headers, body)
        assert not verify("other", headers, body)
    sent = json.loads(receiver.requests[-1][1])
    assert (sent["event"], sent["rule"], sent["subject"], sent["level"]) == (
        "firing",
        "idle",
        "mail",
        "critical",
    )
    async with app.alerts() as alerts:
        log = await alerts.deliveries()
    assert [(d["attempt"], d["ok"], d["detail"]) for d in log] == [
        (2, True, "HTTP 200"),
        (1, False, "HTTP 500"),
    ]
    assert {d["channel"] for d in log} == {"hook"}


# -- email ---------------------------------------------------------------------


async def test_email_alert_reaches_a_local_smtp_server(
    app: App, engines: list[AlertEngine], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    app.alert_rule("len", "queue_length", threshold=0, pending=0)
    app.alert_channel(
        EmailChannel("ops", "127.0.0.1", "chronoq@example.com", ("ops@example.com",), port=port)
    )
    await enqueue(app, 1)
    assert [t.action for t in await round_of(engines, "len")] == ["fire"]
    await wait_for(lambda: len(inbox.messages) == 1)
    recipients, message = inbox.messages[0]
    assert recipients == ["ops@example.com"]
    assert message["Subject"].startswith("[chronoq] FIRING len mail")


async def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_health_reports_a_firing_alert_at_its_level(
    app: App, engines: list[AlertEngine]
) -> None:
    app.alert_rule("idle", "no_consumers", pending=0, level="critical")
    await enqueue(app, 1)
    await round_of(engines, "idle")
    async with Backend.from_settings(app.settings) as backend:
        report = await check_health(backend, alerts=[StoredAlerts(backend.alerts)])
    check = next(c for c in report.checks if c.name == "alerts")
    assert check.level is Level.CRITICAL
    assert "idle:mail" in check.message
