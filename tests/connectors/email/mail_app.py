"""The app the email connector's worker tests run (`chronoq worker
tests.connectors.email.mail_app:app`): one sender, one send task. The SMTP port
comes from CHRONOQ_TEST_SMTP_PORT; tests in process call `install` on their own app.
"""

from __future__ import annotations

import os
from typing import Any

from chronoq import App, Backoff, Task
from chronoq.connectors.email import EmailConnector, EmailTemplate, SmtpServer, Throttle

TASK = "welcome-mail"
SENDER = "news"
WELCOME = EmailTemplate(
    subject="Hello {{ name }}",
    # `lines` pads the body (x 501 bytes): a body big enough to back up the socket
    text="Hi {{ name }},\nwelcome aboard.\n"
    "{% for i in range(lines) %}{{ 'x' * 500 }}\n{% endfor %}",
    html="<p>Hi {{ name }}</p>",
)
FAST_DEFER = {421: 0.3, 450: 0.3, 451: 0.3, 452: 0.3, 454: 0.3}


def install(app: App, port: int) -> tuple[EmailConnector, Task]:
    server = SmtpServer("127.0.0.1", port, security="none", timeout=20)
    mail = EmailConnector(app, server, throttle=Throttle(app, recover_every=0), defer=FAST_DEFER)
    mail.sender(SENDER, "news@sender.test", rate="600/min")

    @mail.task(name=TASK, queue="mail", max_retries=3, backoff=Backoff(base=0.05, maximum=0.1))
    async def welcome(
        mail: EmailConnector, *, campaign: str, sender: str, to: str, name: str, lines: int = 0
    ) -> dict[str, Any]:
        sent = await mail.send(
            key=campaign,
            sender=sender,
            to=to,
            template=WELCOME,
            context={"name": name, "lines": lines},
            unsubscribe_url=f"https://sender.test/unsubscribe?to={to}",
        )
        return sent.to_dict()

    return mail, welcome


app = App("mailtest")
connector, welcome = install(app, int(os.environ.get("CHRONOQ_TEST_SMTP_PORT", "0") or 0))
