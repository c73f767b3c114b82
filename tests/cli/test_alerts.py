"""`chronoq alerts list|show|silence|unsilence|test`, and `chronoq health` with a
firing alert."""

from __future__ import annotations

import asyncio
import json

from chronoq import App, JobRequest
from chronoq.core.alerts import AlertRule, RuleKind, WebhookChannel
from chronoq.observe.alerts import AlertEngine
from tests.cli.helpers import Cli
from tests.observe.alert_servers import Receiver


def fire_idle(app: App) -> None:
    """One job waiting in `mail`, no worker, and one evaluation round."""

    async def go() -> None:
        async with app.client() as client:
            await client.submit(JobRequest("t", queue="mail", force=True))
        async with app.backend() as backend:
            await AlertEngine(backend).evaluate()

    asyncio.run(go())


def test_alerts_test_sends_a_test_notification(cli: Cli, app: App, receiver: Receiver) -> None:
    receiver.statuses[:] = [200]
    with app.alerts() as alerts:
        alerts.add_channel(WebhookChannel("hook", receiver.url, "k"))
    result = cli("alerts", "test")
    assert result.code == 0, result.err
    assert "hook: delivered" in result.out
    assert json.loads(receiver.requests[0][1])["event"] == "test"
    assert cli("alerts", "test", "--channel", "nope").code == 2


def test_alerts_test_without_channels_is_an_error(cli: Cli) -> None:
    result = cli("alerts", "test")
    assert result.code == 2
    assert result.err.startswith("chronoq: error: no alert channel is configured")


def test_health_reports_a_firing_alert(cli: Cli, app: App) -> None:
    with app.alerts() as alerts:
        alerts.add_rule(AlertRule("idle", RuleKind.NO_CONSUMERS, pending=0, level="critical"))
    fire_idle(app)
    result = cli("health", "--json")
    checks = {c["name"]: c for c in json.loads(result.out)["checks"]}
    assert checks["alerts"]["status"] == "critical"
    assert "idle:mail" in checks["alerts"]["message"]
    assert result.code == 2


def test_list_show_silence_unsilence(cli: Cli, app: App) -> None:
    with app.alerts() as alerts:
        alerts.add_rule(AlertRule("idle", RuleKind.NO_CONSUMERS, pending=0))
    fire_idle(app)
    listed = cli("alerts", "list", "--json").json()
    assert "queue_length" in [r["name"] for r in listed["rules"]]  # the defaults
    assert ("idle", "mail", "firing") in [
        (s["rule"], s["subject"], s["state"]) for s in listed["states"]
    ]
    assert "firing mail" in cli("alerts", "list").out
    result = cli("alerts", "silence", "idle", "--for", "2h", "--reason", "migration")
    assert result.code == 0, result.err
    shown = cli("alerts", "show", "idle", "--json").json()
    assert [s["reason"] for s in shown["silences"]] == ["migration"]
    assert shown["states"][0]["state"] == "firing"
    health = json.loads(cli("health", "--json").out)
    alerts_check = next(c for c in health["checks"] if c["name"] == "alerts")
    assert alerts_check["status"] == "ok"  # silenced
    assert cli("alerts", "unsilence", "idle").code == 0
    assert cli("alerts", "unsilence", "idle").code == 1
    assert cli("alerts", "show", "nope").code == 2
    assert cli("alerts", "silence", "nope", "--for", "1h", "--reason", "x").code == 2
