"""POST /v1/channels/{name}/test: a signed test notification through a real local
receiver (HTTP, SMTP), one attempt, and what the receiver answered."""

from __future__ import annotations

import json

import httpx

from chronoq.core.alerts import signature
from tests.api.conftest import Tokens, assert_problem
from tests.observe.alert_servers import Inbox, Receiver, receiver, smtp

__all__ = ["receiver", "smtp"]  # fixtures


async def test_a_webhook_test_reports_each_answer(
    http: httpx.AsyncClient, tokens: Tokens, receiver: Receiver
) -> None:
    admin, operate = tokens.header("admin"), tokens.header("operate")
    hook = {"kind": "webhook", "url": receiver.url, "secret": "s3cret", "retries": 3}
    assert (await http.put("/v1/channels/ops", headers=admin, json=hook)).status_code == 200
    receiver.statuses[:] = [500]
    refused = await http.post("/v1/channels/ops/test", headers=operate)
    assert refused.status_code == 200, refused.text
    body = refused.json()
    assert body["delivered"] is False and body["channel"] == "ops" and body["kind"] == "webhook"
    assert [(a["attempt"], a["ok"], a["detail"]) for a in body["attempts"]] == [
        (1, False, "HTTP 500")
    ]  # fmt: skip  (one attempt: no backoff while the caller waits)
    accepted = (await http.post("/v1/channels/ops/test", headers=operate)).json()
    assert accepted["delivered"] is True and accepted["attempts"][0]["detail"] == "HTTP 200"
    headers, sent = receiver.requests[-1]
    assert json.loads(sent)["event"] == "test" and json.loads(sent)["app"] == "api-test"
    stamp = headers["X-Chronoq-Timestamp"]
    assert headers["X-Chronoq-Signature"] == signature("s3cret", stamp, sent)
    log = (await http.get("/v1/alerts/deliveries", headers=operate)).json()
    assert [e["ok"] for e in log[:2]] == [True, False]
    entries = (await http.get("/v1/audit?limit=2", headers=operate)).json()["entries"]
    assert [(e["action"], e["target"], e["detail"]["delivered"]) for e in entries] == [
        ("alerts.channel.test", "ops", True), ("alerts.channel.test", "ops", False)]  # fmt: skip
    assert_problem(await http.post("/v1/channels/nope/test", headers=operate), 404)
    assert_problem(await http.post("/v1/channels/ops/test", headers=tokens.header("read")), 403)


async def test_an_email_test_reaches_the_inbox(
    http: httpx.AsyncClient, tokens: Tokens, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    mail = {"kind": "email", "host": "127.0.0.1", "port": port, "sender": "cq@example.com",
            "to": ["ops@example.com"]}  # fmt: skip
    await http.put("/v1/channels/mail", headers=tokens.header("admin"), json=mail)
    report = (await http.post("/v1/channels/mail/test", headers=tokens.header("operate"))).json()
    assert report["delivered"] is True and "1 recipient" in report["attempts"][0]["detail"]
    ((to, message),) = inbox.messages
    assert to == ["ops@example.com"] and "test" in message["Subject"]
