"""The processes and the command line on a TLS-only server that requires client
certificates: `rediss://` plus CHRONOQ_TLS_CA_FILE, CHRONOQ_TLS_CERT_FILE and
CHRONOQ_TLS_KEY_FILE in the environment is all the configuration they need."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chronoq import App
from chronoq.client import JobRequest
from chronoq.core.settings import Settings
from tests.cli.helpers import Cli
from tests.fault.helpers import ROOT, WorkerProcess
from tests.servers.polling import wait_for
from tests.servers.tls import Issued, TlsFiles, TlsServer


def tls_env(files: TlsFiles, ca: Issued | None = None) -> dict[str, str]:
    """The environment a process needs for mutual TLS (`ca`: another CA to trust)."""
    return {
        "CHRONOQ_TLS_CA_FILE": str((ca or files.ca).cert),
        "CHRONOQ_TLS_CERT_FILE": str(files.client.cert),
        "CHRONOQ_TLS_KEY_FILE": str(files.client.key),
    }


def tls_app(server: TlsServer, prefix: str) -> App:
    files = server.files
    settings = Settings(
        tls_ca_file=files.ca.cert, tls_cert_file=files.client.cert, tls_key_file=files.client.key
    )
    return App("tls", redis_url=server.url, prefix=prefix, settings=settings)


@pytest.mark.timeout(60)
async def test_a_worker_process_runs_jobs_over_mutual_tls(
    tls_server: TlsServer, prefix: str
) -> None:
    worker = WorkerProcess(tls_server.url, prefix, env=tls_env(tls_server.files))
    try:
        async with tls_app(tls_server, prefix).client() as client:
            made = await client.enqueue_many(
                [JobRequest("tests.sample_app.add", (n, 1), force=True) for n in range(20)]
            )
            results = [await client.result(job.id, timeout=30) for job in made]
        assert results == [n + 1 for n in range(20)]
        assert worker.alive(), worker.output()
    finally:
        worker.stop()


@contextmanager
def scheduler_process(
    url: str, prefix: str, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "chronoq", "scheduler", "tests.sched_app:app"]
    command += ["--redis-url", url, "--prefix", prefix]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **env},
        )  # fmt: skip
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.mark.timeout(60)
def test_the_scheduler_process_fires_over_mutual_tls(tls_server: TlsServer, prefix: str) -> None:
    with scheduler_process(tls_server.url, prefix, tls_env(tls_server.files)) as process:

        def ticks() -> int:
            with tls_server.client() as conn:
                return len(list(conn.scan_iter(match=f"{prefix}:{{default}}:job:*")))

        wait_for("the scheduler to enqueue two ticks", lambda: ticks() >= 2, 20)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


def test_chronoq_queues_reads_over_mutual_tls_from_the_environment(
    tls_server: TlsServer,
    prefix: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with tls_app(tls_server, prefix).sync_client() as client:
        client.submit(JobRequest("some.task", force=True))
    for name, value in tls_env(tls_server.files).items():
        monkeypatch.setenv(name, value)
    cli = Cli(capsys, tls_server.url, prefix)
    counts = cli("queues", "--json").json()
    assert [(q["queue"], q["waiting"]) for q in counts] == [("default", 1)]


def test_chronoq_queues_with_a_wrong_ca_is_one_line_and_exit_2(
    tls_server: TlsServer,
    prefix: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = tls_server.files
    for name, value in tls_env(files, ca=files.wrong_ca).items():
        monkeypatch.setenv(name, value)
    result = Cli(capsys, tls_server.url, prefix)("queues")
    assert result.code == 2
    assert result.out == ""
    (line,) = result.err.splitlines()
    assert line.startswith("chronoq: error: TLS with Redis failed:"), line
    assert "certificate verify failed" in line, line


@pytest.mark.timeout(30)
def test_a_worker_with_a_wrong_ca_exits_non_zero_with_one_line_within_10_s(
    tls_server: TlsServer, prefix: str
) -> None:
    files = tls_server.files
    worker = WorkerProcess(tls_server.url, prefix, env=tls_env(files, ca=files.wrong_ca))
    try:
        try:
            code = worker.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker still runs after 10 s:\n{worker.output()[-2000:]}")
        output = worker.output()
        assert code != 0, output
        assert "Traceback" not in output, output
        errors = [line for line in output.splitlines() if "certificate" in line.lower()]
        assert len(errors) == 1, output  # said once, not retried
    finally:
        worker.stop()
