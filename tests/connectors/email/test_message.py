"""The MIME text the connector writes (chronoq.connectors.email.message), as the
local aiosmtpd server receives it and the stdlib parser reads it back: non-ASCII
and long headers encoded, bodies 7bit, quoted-printable or base64 as they need,
dot-stuffed lines intact; what a message cannot carry is refused by name."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from chronoq import Permanent
from chronoq.connectors.email import EmailConnector, EmailTemplate
from chronoq.connectors.email.message import BadAddress, build_message
from chronoq.connectors.email.templates import Rendered
from tests.connectors.email.mail_app import SENDER, install
from tests.connectors.email.smtp_server import SmtpServerFixture

UNSUB = "https://sender.test/u/ann"


@pytest.fixture
def mail(app: object, smtp_server: SmtpServerFixture) -> EmailConnector:
    connector, _ = install(app, smtp_server.port)  # type: ignore[arg-type]
    return connector


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Hi Ann,\nplain ASCII.\n", "7bit"),
        ("Grüße, Jörg!\n" + "y" * 120 + "\n", "quoted-printable"),
        ("Привет, как дела? Всё хорошо.\n" * 3, "base64"),
        ("x" * 1200 + "\n", "quoted-printable"),  # ASCII, but a line too long for 7bit
    ],
    ids=["ascii", "latin", "cyrillic", "long-line"],
)
async def test_bodies_and_headers_arrive_as_rendered(
    mail: EmailConnector, smtp_server: SmtpServerFixture, text: str, encoding: str
) -> None:
    subject = "Grüße aus Köln: " + "ein recht langer Betreff " * 4
    template = EmailTemplate(subject=subject, text=text, html="<p>{{ name }} ü</p>")
    await mail.send(
        key="k", sender=SENDER, to="ann@example.test", template=template,
        context={"name": "Ann"}, unsubscribe_url=UNSUB, headers={"X-Campaign": "Frühling"},
    )  # fmt: skip
    (got,) = smtp_server.messages
    assert all(len(line) <= 998 for line in got.raw.split(b"\r\n"))
    message = parsed(got.raw)
    assert message["Subject"] == subject.strip()
    assert message["X-Campaign"] == "Frühling"
    assert message["List-Unsubscribe"] == f"<{UNSUB}>"
    assert message.get_content_type() == "multipart/alternative"
    assert text_of(message, "plain") == text
    assert message.get_body(("plain",))["Content-Transfer-Encoding"] == encoding  # type: ignore[index]
    assert text_of(message, "html") == "<p>Ann ü</p>\n"  # a part ends with a line end


async def test_a_line_starting_with_a_dot_survives_and_text_alone_is_one_part(
    mail: EmailConnector, smtp_server: SmtpServerFixture
) -> None:
    template = EmailTemplate(subject="s", text="first\n.\n..two dots\nlast")
    await mail.send(key="k", sender=SENDER, to="ann@example.test", template=template)
    (got,) = smtp_server.messages
    message = parsed(got.raw)
    assert message.get_content_type() == "text/plain"
    assert text_of(message, "plain") == "first\n.\n..two dots\nlast\n"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"headers": {"X-Note": "a\r\nBcc: victim@x.test"}}, "line break"),
        ({"headers": {"From": "boss@x.test"}}, "'From' is set by the connector"),
        ({"headers": {"Bad Name": "v"}}, "bad header name"),
        ({"to": "jörg@example.test"}, "SMTPUTF8"),
        ({"to": "two@x.test, three@x.test"}, "not a plain email address"),
    ],
)
async def test_what_a_message_cannot_carry_is_permanent_and_never_sent(
    mail: EmailConnector, smtp_server: SmtpServerFixture, options: dict[str, object], named: str
) -> None:
    to = str(options.pop("to", "ann@example.test"))
    template = EmailTemplate(subject="s", text="t")
    with pytest.raises(Permanent, match=named):
        await mail.send(key="k", sender=SENDER, to=to, template=template, **options)  # type: ignore[arg-type]
    assert smtp_server.messages == []


def test_each_multipart_message_has_its_own_boundary() -> None:
    rendered = Rendered("s", "t", "<p>t</p>")
    raws = [build_message(rendered, sender="a@x.test", recipient="b@x.test", msg_id="<i@x>")
            for _ in range(2)]  # fmt: skip
    boundaries = {parsed(raw).get_boundary() for raw in raws}
    assert len(boundaries) == 2
    with pytest.raises(BadAddress, match="plain email address"):
        build_message(rendered, sender="nobody", recipient="b@x.test", msg_id="<i@x>")
