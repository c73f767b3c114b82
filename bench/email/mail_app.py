"""The app the email bench's worker runs (`chronoq worker bench.email.mail_app:app`):
one sender and two send tasks calling the same `EmailConnector.send` (ledger on):
`bench-send-free` has no rate limit (limits off), `bench-send-limited` waits for
the sender's limit (`smtp.bench`, BENCH_RATE, set high enough never to wait).
The SMTP port comes from BENCH_SMTP_PORT."""

from __future__ import annotations

import os
from typing import Any

from chronoq import App
from chronoq.connectors.email import EmailConnector, EmailTemplate, SmtpServer

SENDER = "bench"
TEMPLATE = EmailTemplate(
    subject="Hello {{ name }}",
    text="Hi {{ name }},\nthis is the email bench's message.\n",
    html="<p>Hi {{ name }}</p>",
)

app = App("bench-email")
_port = int(os.environ.get("BENCH_SMTP_PORT", "0") or 0)
mail = EmailConnector(app, SmtpServer("127.0.0.1", _port, security="none", timeout=30))
mail.sender(SENDER, "bench@sender.test", rate=os.environ.get("BENCH_RATE", "1000000/s"))


async def _send(campaign: str, to: str, name: str) -> dict[str, Any]:
    sent = await mail.send(
        key=campaign,
        sender=SENDER,
        to=to,
        template=TEMPLATE,
        context={"name": name},
        unsubscribe_url=f"https://sender.test/unsubscribe?to={to}",
    )
    return {"message_id": sent.message_id, "already": sent.already}


@app.task(name="bench-send-free", queue="mail", max_retries=0)
async def send_free(*, campaign: str, sender: str, to: str, name: str) -> dict[str, Any]:
    return await _send(campaign, to, name)


@mail.task(name="bench-send-limited", queue="mail", max_retries=0)
async def send_limited(
    mail: EmailConnector, *, campaign: str, sender: str, to: str, name: str
) -> dict[str, Any]:
    return await _send(campaign, to, name)
