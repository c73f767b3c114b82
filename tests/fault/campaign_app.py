"""The app of the campaign fault tests (`chronoq worker tests.fault.campaign_app:app`):
a campaign whose `each` step emails every recipient through
chronoq.connectors.email to the test's local SMTP server (CHRONOQ_TEST_SMTP_PORT).
Each send first records which process began it (`<CF_KEY>:starts`, "pid:email"),
so a test can SIGKILL the process holding a given send. CF_PAUSED_RETRY shortens
how long a paused campaign's queued sends wait before asking again."""

from __future__ import annotations

import os
from typing import Any

import redis

from chronoq import App, Backoff
from chronoq.campaigns import CampaignContext, campaign_step, install, runner
from chronoq.connectors.email import EmailConnector, EmailTemplate, SmtpServer, Throttle

STEP_TASK = "cf.email"
SENDER = "news"
NOTE = EmailTemplate(subject="Hello {{ name }}", text="Hi {{ name }},\nthe note.\n")
FAST_DEFER = {421: 0.3, 450: 0.3, 451: 0.3, 452: 0.3, 454: 0.3}


def build(app: App, port: int, key: str, redis_url: str) -> EmailConnector:
    """Register the campaign tasks and the email step on `app` (the worker's and
    the test's: a campaign's create checks its step's task is registered)."""
    install(app)
    log = redis.Redis.from_url(redis_url)
    server = SmtpServer("127.0.0.1", port, security="none", timeout=20)
    mail = EmailConnector(app, server, throttle=Throttle(app, recover_every=0), defer=FAST_DEFER)
    mail.sender(SENDER, "news@sender.test", rate="100000/min")

    @campaign_step(app, name=STEP_TASK, max_retries=5, backoff=Backoff(base=0.05, maximum=0.2))
    async def email(recipient: dict[str, Any], ctx: CampaignContext) -> dict[str, Any]:
        log.rpush(f"{key}:starts", f"{os.getpid()}:{ctx.recipient.key}")
        sent = await mail.send(
            key=ctx.ledger_key,
            sender=SENDER,
            to=ctx.recipient.email,
            template=NOTE,
            context={"name": ctx.recipient.name or "there"},
            unsubscribe_url=f"https://sender.test/unsubscribe?to={ctx.recipient.key}",
        )
        return sent.to_dict()

    return mail


runner.PAUSED_RETRY = float(os.environ.get("CF_PAUSED_RETRY", "15"))
app = App("cmp-fault")
app.settings.workflow_sweep = 0.2
connector = build(
    app,
    int(os.environ.get("CHRONOQ_TEST_SMTP_PORT", "0") or 0),
    os.environ.get("CF_KEY", "cmp-fault"),
    os.environ.get("CF_REDIS", "redis://127.0.0.1:6379/0"),
)
