"""The email connector against a local aiosmtpd server: the message and headers
as the server got them, the sandbox, and how each kind of reply ends the send."""

from __future__ import annotations

import pytest

from chronoq import App, JobStatus, Permanent, RateLimited
from chronoq.client import JobRequest
from chronoq.connectors.email import EmailConnector, EmailTemplate, Phase, ledger_key
from tests.connectors.email.mail_app import SENDER, TASK, WELCOME, install
from tests.connectors.email.smtp_server import SmtpServerFixture
from tests.worker.helpers import running_worker, wait_until

TO = "Ann@Example.test"
UNSUB = "https://sender.test/u/ann"


@pytest.fixture
def mail(app: App, smtp_server: SmtpServerFixture) -> EmailConnector:
    connector, _ = install(app, smtp_server.port)
    return connector


async def send(mail: EmailConnector, template: EmailTemplate = WELCOME, **extra: object) -> object:
    options = {"unsubscribe_url": UNSUB, **extra}
    return await mail.send(
        key="camp-1", sender=SENDER, to=TO, template=template,
        context={"name": "Ann", "lines": 0}, **options,  # type: ignore[arg-type]
    )  # fmt: skip


async def rate_of(app: App) -> int:
    async with app.limits() as limits:
        return (await limits.get(f"smtp.{SENDER}")).limit


async def test_a_send_reaches_the_server_with_its_headers_and_is_never_repeated(
    mail: EmailConnector, smtp_server: SmtpServerFixture
) -> None:
    result = await send(mail)
    (got,) = smtp_server.messages
    assert got.mail_from == "news@sender.test" and got.rcpt_tos == [TO]
    message = got.message
    assert message["Subject"] == "Hello Ann"
    assert message["From"] == "news@sender.test" and message["To"] == TO
    assert message["List-Unsubscribe"] == f"<{UNSUB}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == result.message_id  # type: ignore[attr-defined]
    parts = {part.get_content_type(): part for part in message.walk()}
    assert "Hi Ann,\r\nwelcome aboard." in parts["text/plain"].get_payload(decode=True).decode()
    assert parts["text/html"].get_payload(decode=True).decode().strip() == "<p>Hi Ann</p>"
    assert result.reply.startswith("250 OK queued as q1")  # type: ignore[attr-defined]

    entry = await mail.ledger.get(ledger_key("camp-1", TO))
    assert entry is not None and entry.state == Phase.SENT
    steps = ["started", "connected", "mail_from", "rcpt", "data", "dot", "sent"]
    assert [state for state, _ in entry.history] == steps

    again = await send(mail)  # a retry of the same (key, recipient)
    assert again.already and len(smtp_server.messages) == 1  # type: ignore[attr-defined]


async def test_templates_render_in_a_sandbox(
    mail: EmailConnector, smtp_server: SmtpServerFixture
) -> None:
    unsafe = EmailTemplate(subject="x", text="{{ name.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(Permanent, match="SecurityError"):
        await send(mail, unsafe)
    with pytest.raises(Permanent, match="UndefinedError"):
        await send(mail, EmailTemplate(subject="{{ missing }}", text="x"))
    escaped = EmailTemplate(subject="s", text="t", html="<b>{{ name }}</b>")
    await mail.send(key="k2", sender=SENDER, to=TO, template=escaped, context={"name": "<i>"})
    (got,) = smtp_server.messages
    html = next(p for p in got.message.walk() if p.get_content_type() == "text/html")
    assert "<b>&lt;i&gt;</b>" in html.get_payload(decode=True).decode()
    with pytest.raises(Permanent, match="https"):
        await send(mail, unsubscribe_url="http://sender.test/u")
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize(
    ("step", "reply"),
    [
        ("MAIL", "421 4.7.0 Too many connections, slow down"),
        ("RCPT", "450 4.2.1 Greylisted, try again later"),
        ("DATA", "454 4.7.0 Temporary failure"),
        ("DOT", "451 4.3.0 Queue full"),
    ],
)
async def test_a_4xx_defers_the_send_and_lowers_the_senders_rate(
    app: App, mail: EmailConnector, smtp_server: SmtpServerFixture, step: str, reply: str
) -> None:
    smtp_server.script.replies[step] = [reply]
    with pytest.raises(RateLimited) as deferred:
        await send(mail)
    assert deferred.value.retry_after == 0.3 and reply[:3] in str(deferred.value)
    entry = await mail.ledger.get(ledger_key("camp-1", TO))
    assert entry is not None and entry.state == Phase.DEFERRED
    assert await rate_of(app) == 300  # 600/min halved

    result = await send(mail)  # later: the server takes it, and the rate recovers a step
    assert not result.already and result.tries == 2  # type: ignore[attr-defined]
    assert len(smtp_server.messages) == 1
    assert await rate_of(app) == 375


async def test_a_burst_of_throttling_replies_cuts_the_rate_once(
    app: App, mail: EmailConnector, smtp_server: SmtpServerFixture
) -> None:
    smtp_server.script.replies["MAIL"] = ["421 4.7.0 Slow down"] * 3
    for _ in range(3):  # as three sends running at once would get them
        with pytest.raises(RateLimited):
            await send(mail)
    assert await rate_of(app) == 300  # one cut (lower_every), not 600 -> 75


async def test_a_5xx_is_permanent_and_never_sent_again(
    mail: EmailConnector, smtp_server: SmtpServerFixture
) -> None:
    smtp_server.script.replies["RCPT"] = ["550 5.1.1 No such user"]
    with pytest.raises(Permanent, match=r"SMTP 550 5\.1\.1 No such user"):
        await send(mail)
    entry = await mail.ledger.get(ledger_key("camp-1", TO))
    assert entry is not None and entry.state == Phase.FAILED
    with pytest.raises(Permanent, match="failed permanently: SMTP 550"):
        await send(mail)
    assert smtp_server.messages == []


async def test_jobs_of_the_task_helper_end_as_the_replies_say(
    app: App, smtp_server: SmtpServerFixture
) -> None:
    _, welcome = install(app, smtp_server.port)
    smtp_server.script.replies["MAIL"] = ["421 4.7.0 Slow down", "550 5.7.1 Rejected"]
    async with app.client() as client:
        deferred = await client.submit(
            JobRequest(welcome, kwargs={"campaign": "c", "sender": SENDER, "to": "a@x.test",
                                        "name": "A"}, unique_key="c:a@x.test")
        )  # fmt: skip
        refused = await client.enqueue(
            welcome, campaign="c", sender=SENDER, to="b@x.test", name="B"
        )
        async with running_worker(app, queues="mail", idle_wait=0.1):

            async def finished() -> bool:
                jobs = [await client.job(j.id) for j in (deferred, refused)]
                return all(job.status in (JobStatus.SUCCEEDED, JobStatus.DEAD) for job in jobs)

            await wait_until(finished, timeout=20, interval=0.05)
        first, second = await client.job(deferred.id), await client.job(refused.id)
    outcomes = {first.status, second.status}
    assert outcomes == {JobStatus.SUCCEEDED, JobStatus.DEAD}
    dead = first if first.status is JobStatus.DEAD else second
    assert "SMTP 550 5.7.1 Rejected" in (dead.error or "")
    assert len(smtp_server.messages) == 1
    assert welcome.name == TASK
