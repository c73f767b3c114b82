"""The clients on a TLS-only server that requires client certificates (mutual TLS):
the settings' CA, certificate and key files are all a client needs, and a wrong CA or a
missing certificate fails at once with a clear error, never a hang."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from chronoq import App, JobStatus
from chronoq.client import JobRequest
from chronoq.core.settings import Settings
from tests.servers.tls import Issued, TlsFiles, TlsServer

QUICKLY = 5.0  # seconds a refused connection may take, retries included


def tls_settings(ca: Issued, client: Issued | None) -> Settings:
    return Settings(
        tls_ca_file=ca.cert,
        tls_cert_file=None if client is None else client.cert,
        tls_key_file=None if client is None else client.key,
    )


def tls_app(server: TlsServer, prefix: str, ca: Issued, client: Issued | None) -> App:
    return App("tls", redis_url=server.url, prefix=prefix, settings=tls_settings(ca, client))


async def test_the_async_client_enqueues_and_reads_over_mutual_tls(
    tls_server: TlsServer, prefix: str
) -> None:
    files = tls_server.files
    app = tls_app(tls_server, prefix, files.ca, files.client)
    async with app.client() as client:
        made = await client.submit(JobRequest("some.task", (1, 2), force=True))
        job = await client.job(made.id)
        assert job.status is JobStatus.QUEUED
        assert job.args == [1, 2]
        assert [(q.queue, q.waiting) for q in await client.queues()] == [("default", 1)]
    with tls_server.client(decode_responses=True) as conn:
        assert conn.zcard(f"{prefix}:{{default}}:ready") == 1


def test_the_sync_client_and_its_fast_path_work_over_mutual_tls(
    tls_server: TlsServer, prefix: str
) -> None:
    files = tls_server.files
    app = tls_app(tls_server, prefix, files.ca, files.client)
    with app.sync_client() as client:
        one = client.submit(
            JobRequest("some.task", (1,), force=True)
        )  # the fast path: its own TLS connection
        many = client.enqueue_many([JobRequest("some.task", (n,), force=True) for n in range(50)])
        assert client.job(one.id).status is JobStatus.QUEUED  # through the event loop
        assert {client.job(job.id).status for job in many} == {JobStatus.QUEUED}
    with tls_server.client(decode_responses=True) as conn:
        assert conn.zcard(f"{prefix}:{{default}}:ready") == 51


def refusal(tls_server: TlsServer, prefix: str, ca: Issued, client: Issued | None) -> list[str]:
    """What the async and the sync client (fast path) say when the handshake fails;
    each must fail, and quickly."""
    app = tls_app(tls_server, prefix, ca, client)
    errors: list[str] = []

    async def enqueue() -> None:
        async with app.client() as async_client:
            await async_client.submit(JobRequest("some.task", force=True))

    for attempt in ("async", "sync"):
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError) as caught:
            if attempt == "async":
                asyncio.run(enqueue())
            else:
                with app.sync_client() as sync_client:
                    sync_client.submit(JobRequest("some.task", force=True))
        assert time.monotonic() - started < QUICKLY, attempt
        errors.append(str(caught.value))
    return errors


def test_a_wrong_ca_fails_at_once_naming_the_certificate(
    tls_server: TlsServer, prefix: str
) -> None:
    files: TlsFiles = tls_server.files
    for message in refusal(tls_server, prefix, files.wrong_ca, files.client):
        assert "certificate verify failed" in message, message


def test_a_missing_client_certificate_is_refused(tls_server: TlsServer, prefix: str) -> None:
    files: TlsFiles = tls_server.files
    for message in refusal(tls_server, prefix, files.ca, None):
        assert message  # the server hangs up on the handshake; the words vary by OpenSSL
    with tls_server.client(decode_responses=True) as conn:
        assert conn.dbsize() == 0  # nothing was written
