"""Worker processes against unreachable, misconfigured and failing-over servers:
real processes, real signals, private servers."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from chronoq import App, JobStatus
from chronoq.client import JobRequest
from tests.fault.helpers import APP, ROOT, WorkerProcess, free_port, workers
from tests.redis.private_servers import (
    SYSTEM_REDIS,
    PrivateServer,
    fill,
    make_tls_files,
    new_server,
    private_servers,
    rewrite_aof,
    slow_load_args,
)
from tests.worker.helpers import wait_until

NAP = "tests.sample_app.nap"
EXIT_WITHIN = 10.0


@pytest.fixture
def servers() -> Iterator[list[PrivateServer]]:
    with private_servers() as started:
        yield started


def wait_for_output(worker: WorkerProcess, text: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while text not in worker.output():
        if time.monotonic() > deadline or not worker.alive():
            raise AssertionError(f"{text!r} not in the worker's output:\n{worker.output()}")
        time.sleep(0.05)


def exits_within(worker: WorkerProcess, seconds: float) -> int:
    started = time.monotonic()
    try:
        code = worker.wait(seconds)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running after {seconds}s:\n{worker.output()}") from None
    assert time.monotonic() - started < seconds
    return code


def error_line(worker: WorkerProcess) -> str:
    """The worker's last line, which must be its one-line error (and no traceback)."""
    output = worker.output()
    assert "Traceback" not in output, output
    return output.rstrip("\n").rsplit("\n", 1)[-1]


def outage_lines(worker: WorkerProcess, label: str) -> tuple[list[str], list[str]]:
    """The worker's outage warnings and recovery lines for the server at `label`."""
    lines = worker.output().splitlines()
    warnings = [
        line for line in lines
        if " WARNING chronoq." in line and f"Redis at {label}" in line and "it answers" in line
    ]  # fmt: skip
    recoveries = [line for line in lines if f"Redis at {label} answers again" in line]
    return warnings, recoveries


# -- signals while the server cannot be reached ----------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_stops_a_worker_reconnecting_to_an_unreachable_server(
    prefix: str, sig: signal.Signals
) -> None:
    label = f"127.0.0.1:{free_port()}"  # nothing listens there
    with workers() as started:
        worker = WorkerProcess(f"redis://{label}/0", prefix)
        started.append(worker)
        wait_for_output(worker, f"cannot reach Redis at {label}")
        time.sleep(1.5)  # many retries: still one warning
        worker.signal(sig)
        assert exits_within(worker, EXIT_WITHIN) == 0  # it did what it was asked
        warnings, _ = outage_lines(worker, label)
        assert len(warnings) == 1, worker.output()
        assert "stopped before it started" in worker.output()


def test_sigterm_stops_a_worker_whose_server_died_mid_run(
    servers: list[PrivateServer], prefix: str
) -> None:
    server = new_server(servers)
    app = App("died", redis_url=server.url, prefix=prefix)
    with workers() as started:
        worker = WorkerProcess(server.url, prefix, "--concurrency", "2")
        started.append(worker)
        ids = asyncio.run(enqueue(app, [JobRequest(NAP, (5.0,), force=True) for _ in range(2)]))
        wait_for_output(worker, "serving")
        asyncio.run(wait_for_status(app, ids, JobStatus.RUNNING, 15))
        server.kill()  # two jobs run, and their outcomes can no longer be written
        wait_for_output(worker, f"cannot reach Redis at {server.label}")
        worker.signal(signal.SIGTERM)
        worker.signal(signal.SIGTERM)  # and at once: do not wait for the jobs
        assert exits_within(worker, EXIT_WITHIN) == 0
        assert "stopped while Redis was unavailable" in worker.output()


@pytest.mark.parametrize(
    "command", [("scheduler", "tests.sched_app:app"), ("up", APP)], ids=["scheduler", "up"]
)
def test_sigterm_stops_scheduler_and_up_reconnecting_to_an_unreachable_server(
    prefix: str, command: tuple[str, str]
) -> None:
    label = f"127.0.0.1:{free_port()}"
    process = chronoq(*command, "--redis-url", f"redis://{label}/0", "--prefix", prefix)
    try:
        # Signalled only once it is up and retrying: a start-up is slow on a loaded box.
        seen = stderr_until(process, f"cannot reach Redis at {label}")
        time.sleep(1.5)  # many retries: still one warning
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=EXIT_WITHIN)
    finally:
        process.kill()
    err = seen + rest
    assert process.returncode == 0, err
    assert err.count(f"cannot reach Redis at {label}") == 1, err


# -- permanent faults: one line, non-zero, within seconds ------------------------


def test_a_wrong_password_ends_the_worker_with_one_line(
    servers: list[PrivateServer], prefix: str
) -> None:
    server = new_server(servers, password="right")
    with workers() as started:
        worker = WorkerProcess(f"redis://:wrong@{server.label}/0", prefix)
        started.append(worker)
        assert exits_within(worker, EXIT_WITHIN) == 2
        assert error_line(worker) == (
            f"chronoq: error: Redis at {server.label} refused the username or password (WRONGPASS)"
        )


def test_a_wrong_password_met_while_still_connecting_ends_the_worker(
    servers: list[PrivateServer], prefix: str
) -> None:
    """Unreachable first (temporary: waited out), then up and refusing the password."""
    folder = Path(tempfile.mkdtemp(prefix="cq-priv-"))
    server = PrivateServer(folder, password="right")
    servers.append(server)
    with workers() as started:
        worker = WorkerProcess(f"redis://:wrong@{server.label}/0", prefix)
        started.append(worker)
        wait_for_output(worker, f"cannot reach Redis at {server.label}")
        server.start()
        assert exits_within(worker, EXIT_WITHIN) == 2
        assert error_line(worker).endswith("refused the username or password (WRONGPASS)")


def test_a_denied_command_ends_the_worker_with_one_line(
    servers: list[PrivateServer], prefix: str
) -> None:
    server = new_server(servers)
    server.admin().acl_setuser(
        "noscripts", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
        commands=["+@all", "-@scripting"],
    )  # fmt: skip
    with workers() as started:
        worker = WorkerProcess(f"redis://noscripts:pw@{server.label}/0", prefix)
        started.append(worker)
        assert exits_within(worker, EXIT_WITHIN) == 2
        line = error_line(worker)
        assert line.startswith(
            f"chronoq: error: Redis at {server.label} denied this user a command chronoq "
            "needs (NOPERM): "
        ), line
        assert "no permissions to run the 'fcall' command" in line


def test_an_untrusted_tls_certificate_ends_the_worker_with_one_line(
    tmp_path: Path, prefix: str
) -> None:
    tls = make_tls_files(tmp_path)
    with private_servers() as servers, workers() as started:
        server = new_server(servers, binary=SYSTEM_REDIS, tls=tls)
        worker = WorkerProcess(f"rediss://{server.label}/0", prefix)  # no CA: not trusted
        started.append(worker)
        assert exits_within(worker, EXIT_WITHIN) == 2
        line = error_line(worker)
        assert line.startswith(f"chronoq: error: TLS with Redis at {server.label} failed: "), line
        assert "(CERTIFICATE_VERIFY_FAILED)" in line


def test_a_wrong_password_ends_the_scheduler_and_up_with_one_line(
    servers: list[PrivateServer], prefix: str
) -> None:
    server = new_server(servers, password="right")
    url = f"redis://:wrong@{server.label}/0"
    expected = f"chronoq: error: Redis at {server.label} refused the username or password"
    for command in (("scheduler", "tests.sched_app:app"), ("up", APP)):
        process = chronoq(*command, "--redis-url", url, "--prefix", prefix)
        try:
            _, err = process.communicate(timeout=EXIT_WITHIN)
        finally:
            process.kill()
        assert process.returncode == 2, (command, err)
        assert err.rstrip().rsplit("\n", 1)[-1].startswith(expected), err


# -- the start-up check for an ACL user that may not read the settings -----------


def test_a_user_without_info_and_config_starts_warned_and_strict_refuses(
    servers: list[PrivateServer], prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = new_server(servers)
    server.admin().acl_setuser(
        "blind", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
        commands=["+@all", "-info", "-config"],
    )  # fmt: skip
    url = f"redis://blind:pw@{server.label}/0"
    app = App("blind", redis_url=url, prefix=prefix)
    ids = asyncio.run(enqueue(app, [JobRequest(NAP, (0.01,), force=True)]))
    with workers() as started:
        worker = WorkerProcess(url, prefix, "--burst")
        started.append(worker)
        assert exits_within(worker, 30) == 0, worker.output()
        assert "maxmemory-policy is unknown" in worker.output()
        assert "persistence is unknown" in worker.output()
        asyncio.run(wait_for_status(app, ids, JobStatus.SUCCEEDED, 5))

        monkeypatch.setenv("CHRONOQ_STRICT_SERVER", "true")
        strict = WorkerProcess(url, prefix, "--burst")
        started.append(strict)
        assert exits_within(strict, EXIT_WITHIN) == 2
        assert error_line(strict).startswith(
            "chronoq: error: refusing to start: maxmemory-policy is unknown"
        )


# -- temporary faults mid-run: ridden out, logged once, nothing lost -------------


def test_a_read_only_phase_is_ridden_out(servers: list[PrivateServer], prefix: str) -> None:
    primary, other = new_server(servers), new_server(servers)
    app = App("readonly", redis_url=primary.url, prefix=prefix)
    other.admin().replicaof("127.0.0.1", primary.port)  # it holds a copy of everything
    first = asyncio.run(enqueue(app, [JobRequest(NAP, (0.05,), force=True) for _ in range(60)]))
    with workers() as started:
        worker = WorkerProcess(primary.url, prefix, "--concurrency", "4")
        started.append(worker)
        asyncio.run(wait_for_status(app, first[:8], JobStatus.SUCCEEDED, 20))
        demote(primary, other)  # jobs are running and claims are due: READONLY now
        time.sleep(3)
        promote(primary)
        later = asyncio.run(enqueue(app, [JobRequest(NAP, (0.01,), force=True) for _ in range(20)]))
        asyncio.run(wait_for_status(app, first + later, JobStatus.SUCCEEDED, 60))
        assert worker.alive(), worker.output()
        wait_for_output(worker, f"Redis at {primary.label} answers again")  # the last retry
        warnings, recoveries = outage_lines(worker, primary.label)
        assert len(warnings) == 1 and len(recoveries) == 1, worker.output()
        assert "(READONLY)" in recoveries[0] or "(UNBLOCKED)" in recoveries[0], recoveries


def test_a_loading_phase_is_ridden_out(servers: list[PrivateServer], prefix: str) -> None:
    server = new_server(servers)
    admin = server.admin()
    fill(admin, 20_000)
    rewrite_aof(admin)  # a restart loads these key by key, slowly
    admin.close()
    app = App("loading", redis_url=server.url, prefix=prefix)
    first = asyncio.run(enqueue(app, [JobRequest(NAP, (0.05,), force=True) for _ in range(60)]))
    with workers() as started:
        worker = WorkerProcess(server.url, prefix, "--concurrency", "4")
        started.append(worker)
        asyncio.run(wait_for_status(app, first[:8], JobStatus.SUCCEEDED, 20))
        server.kill()
        server.start(*slow_load_args(), ready=False)
        assert loading(server), server.server_log()
        while loading(server):
            time.sleep(0.1)
        later = asyncio.run(enqueue(app, [JobRequest(NAP, (0.01,), force=True) for _ in range(20)]))
        asyncio.run(wait_for_status(app, first + later, JobStatus.SUCCEEDED, 60))
        assert worker.alive(), worker.output()
        wait_for_output(worker, f"Redis at {server.label} answers again")  # the last retry
        warnings, recoveries = outage_lines(worker, server.label)
        assert len(warnings) == 1 and len(recoveries) == 1, worker.output()
        assert "(LOADING)" in recoveries[0], recoveries


# -- helpers ----------------------------------------------------------------------


def stderr_until(process: subprocess.Popen[str], text: str, timeout: float = 30) -> str:
    """The process's stderr up to and with the first line holding `text`, read in a
    thread so that a process that never prints it fails the test instead of hanging it."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if text in line:
                found.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)  # it ends on the line, or when the process closes stderr
    if not found.is_set():
        raise AssertionError(f"{text!r} not on stderr within {timeout:g}s:\n{''.join(lines)}")
    return "".join(lines)


def chronoq(*args: str) -> subprocess.Popen[str]:
    if args and args[0] == "up":
        args = (*args, "--no-dashboard")  # these tests are about its workers
    return subprocess.Popen(
        [sys.executable, "-m", "chronoq", *args], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip


async def enqueue(app: App, requests: list[JobRequest]) -> list[str]:
    async with app.client() as client:
        return [job.id for job in await client.enqueue_many(requests)]


async def wait_for_status(app: App, ids: list[str], status: JobStatus, timeout: float) -> None:
    async with app.client() as client:

        async def reached() -> bool:
            try:
                return all([(await client.job(i)).status is status for i in ids])
            except redis.RedisError:
                return False

        await wait_until(reached, timeout=timeout, interval=0.1)


def demote(primary: PrivateServer, other: PrivateServer) -> None:
    """Fail over to `other`, which replicates `primary`: `primary` becomes its
    replica and answers writes with READONLY. Writes are paused meanwhile so that
    none lands on `primary` after `other` stopped copying it."""
    admin, promoted = primary.admin(), other.admin()
    admin.client_pause(10_000, all=False)
    offset = admin.info("replication")["master_repl_offset"]
    deadline = time.monotonic() + 10
    while promoted.info("replication").get("slave_repl_offset", -1) < offset:
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.02)
    promoted.replicaof("NO", "ONE")
    admin.replicaof("127.0.0.1", other.port)
    admin.client_unpause()


def promote(primary: PrivateServer) -> None:
    primary.admin().replicaof("NO", "ONE")


def loading(server: PrivateServer) -> bool:
    try:
        redis.Redis.from_url(server.url, socket_timeout=5).ping()
    except redis.BusyLoadingError:
        return True
    return False
