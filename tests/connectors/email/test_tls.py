"""STARTTLS, implicit TLS and AUTH against a local aiosmtpd server with a test CA."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from chronoq import App, Permanent
from chronoq.connectors.email import EmailConnector, SmtpServer
from tests.connectors.email.mail_app import SENDER, WELCOME
from tests.connectors.email.smtp_server import Handler, HoldingController, Script
from tests.servers.ports import free_port
from tests.servers.tls import TlsFiles, make_tls_files

CONTEXT = {"name": "Ann", "lines": 0}


def accept_news(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
    ok = auth.login == b"news" and auth.password == b"secret"
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers a 535


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    return make_tls_files(tmp_path / "tls")


def contexts(files: TlsFiles) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(files.server.cert, files.server.key)
    return server, ssl.create_default_context(cafile=str(files.ca.cert))


@pytest.fixture
def starttls_server(tls: TlsFiles) -> Iterator[tuple[Handler, int, ssl.SSLContext]]:
    server_context, client_context = contexts(tls)
    handler, port = Handler(Script()), free_port()
    controller = HoldingController(
        handler, hostname="127.0.0.1", port=port, tls_context=server_context,
        require_starttls=True, authenticator=accept_news, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    yield handler, port, client_context
    controller.stop()


@pytest.fixture
def others(app: App) -> list[App]:
    """Two more apps on the test's Redis and prefix (each declares the sender once).
    Fixtures, not throwaways: an app dropped mid-test leaves its lock clients' Redis
    connections to the garbage collector, whose ResourceWarning fails the test when
    a collection happens to run before the test ends; the loop closes these."""
    return [App(f"other{i}", redis_url=app.settings.redis_url, prefix=app.settings.prefix)
            for i in range(2)]  # fmt: skip


def connector(app: App, server: SmtpServer) -> EmailConnector:
    mail = EmailConnector(app, server)
    mail.sender(SENDER, "news@sender.test")
    return mail


async def test_starttls_with_auth_sends_and_a_bad_password_is_permanent(
    app: App, others: list[App], starttls_server: tuple[Handler, int, ssl.SSLContext]
) -> None:
    handler, port, client_context = starttls_server
    good = SmtpServer("127.0.0.1", port, username="news", password="secret",
                      tls_context=client_context, timeout=10)  # fmt: skip
    sent = await connector(app, good).send(
        key="k", sender=SENDER, to="a@x.test", template=WELCOME, context=CONTEXT
    )
    assert sent.reply.startswith("250") and len(handler.messages) == 1
    wrong = SmtpServer("127.0.0.1", port, username="news", password="nope",
                       tls_context=client_context, timeout=10)  # fmt: skip
    with pytest.raises(Permanent, match="SMTP 535"):
        await connector(others[0], wrong).send(
            key="k", sender=SENDER, to="b@x.test", template=WELCOME, context=CONTEXT
        )
    plain = SmtpServer("127.0.0.1", port, security="none", timeout=10)
    with pytest.raises(Permanent, match="SMTP 530"):  # the server requires STARTTLS
        await connector(others[1], plain).send(
            key="k", sender=SENDER, to="c@x.test", template=WELCOME, context=CONTEXT
        )
    assert len(handler.messages) == 1


async def test_implicit_tls(app: App, tls: TlsFiles) -> None:
    server_context, client_context = contexts(tls)
    handler, port = Handler(Script()), free_port()
    controller = HoldingController(
        handler, hostname="127.0.0.1", port=port, ssl_context=server_context,
        server_hostname="127.0.0.1",
    )  # fmt: skip
    controller.start()
    try:
        server = SmtpServer("127.0.0.1", port, security="tls", tls_context=client_context)
        sent = await connector(app, server).send(
            key="k", sender=SENDER, to="a@x.test", template=WELCOME, context=CONTEXT
        )
    finally:
        controller.stop()
    assert sent.reply.startswith("250") and handler.messages[0].rcpt_tos == ["a@x.test"]


async def test_a_server_without_starttls_is_refused_permanently_and_gets_nothing(
    app: App,
) -> None:
    """security="starttls" (the default) never falls back to clear text: a server
    that does not offer STARTTLS ends the send at once, naming the server."""
    handler, port = Handler(Script()), free_port()
    controller = HoldingController(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        server = SmtpServer("127.0.0.1", port, timeout=10)
        with pytest.raises(Permanent, match=f"127.0.0.1:{port} does not offer STARTTLS"):
            await connector(app, server).send(
                key="k", sender=SENDER, to="a@x.test", template=WELCOME, context=CONTEXT
            )
    finally:
        controller.stop()
    assert handler.messages == []
