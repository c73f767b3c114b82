"""Email over SMTP: sandboxed Jinja2 templates, one-click unsubscribe, a send
ledger per recipient that survives crashes, and SMTP replies mapped to chronoq's
outcomes (4xx defers and slows the sender, 5xx is permanent).

```
mail = EmailConnector(app, SmtpServer("smtp.example.com", 587, username=u, password=p))
mail.sender("news", "news@example.com", rate="100/min")
WELCOME = EmailTemplate(subject="Hi {{ name }}", text="Hello {{ name }}!")

@mail.task(queue="mail")
async def welcome(mail: EmailConnector, campaign: str, sender: str, to: str, name: str):
    sent = await mail.send(key=campaign, sender=sender, to=to, template=WELCOME,
                           context={"name": name}, unsubscribe_url=f"https://x.test/u/{to}")
    return sent.to_dict()
```
"""

from chronoq.connectors.email.phases import Phase
from chronoq.connectors.email.sender import EmailConnector, SendResult, ledger_key
from chronoq.connectors.email.smtp import SmtpLost, SmtpNoTls, SmtpReply, SmtpServer
from chronoq.connectors.email.templates import EmailTemplate, Rendered, TemplateRefused
from chronoq.connectors.email.throttle import Sender, Throttle

__all__ = [
    "EmailConnector",
    "EmailTemplate",
    "Phase",
    "Rendered",
    "SendResult",
    "Sender",
    "SmtpLost",
    "SmtpNoTls",
    "SmtpReply",
    "SmtpServer",
    "TemplateRefused",
    "Throttle",
    "ledger_key",
]
