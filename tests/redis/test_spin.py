"""Spin, then block: the sync enqueuer's reply polling, on real sockets."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest

from chronoq import App, Settings
from chronoq.client import JobRequest
from chronoq.redis import spin
from chronoq.redis.spin import MISS_LIMIT, PAUSE_READS, SpinReader, can_spin


@pytest.fixture(autouse=True)
def two_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polling is off on one CPU (tested below); its workings are tested anywhere."""
    monkeypatch.setattr(spin, "usable_cpus", lambda: 2)


@pytest.fixture(params=["timeout", "blocking"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected pair; the reading end with a timeout (its descriptor non-blocking,
    as redis-py's sockets) or without one (a blocking descriptor)."""
    ours, theirs = socket.socketpair()
    ours.settimeout(5.0 if request.param == "timeout" else None)
    yield ours, theirs
    ours.close()
    theirs.close()


def test_a_reply_that_is_there_is_read_without_blocking(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    reader = SpinReader(ours, 0.01)
    theirs.sendall(b"+OK\r\n")
    buffer = bytearray(64)
    assert reader.poll_into(buffer) == 5 and buffer[:5] == b"+OK\r\n"


def test_a_reply_that_lands_while_polling_is_read(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    reader = SpinReader(ours, 2.0)
    timer = threading.Timer(0.02, theirs.sendall, (b":1\r\n",))
    timer.start()
    started = time.perf_counter()
    buffer = bytearray(64)
    count = reader.poll_into(buffer)
    timer.join()
    assert count == 4 and buffer[:4] == b":1\r\n"
    assert 0.015 < time.perf_counter() - started < 1.0  # waited for it, not the budget


def test_polling_pauses_after_misses_in_a_row_then_resumes(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A server further than the budget (or a slow script) costs at most MISS_LIMIT
    spent budgets per PAUSE_READS reads."""
    ours, theirs = pair
    reader = SpinReader(ours, 0.0005)
    buffer = bytearray(64)
    for _ in range(MISS_LIMIT):
        assert reader.spinning
        assert reader.poll_into(buffer) is None  # nothing came: the caller blocks
    assert not reader.spinning
    theirs.sendall(b"+PONG\r\n")
    for _ in range(PAUSE_READS):
        assert reader.poll_into(buffer) is None  # paused: not even read
    assert reader.spinning
    assert reader.poll_into(buffer) == 7


def test_a_hit_resets_the_misses(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    reader = SpinReader(ours, 0.0005)
    buffer = bytearray(64)
    for _ in range(MISS_LIMIT - 1):
        assert reader.poll_into(buffer) is None
    theirs.sendall(b"+OK\r\n")
    assert reader.poll_into(buffer) == 5
    for _ in range(MISS_LIMIT - 1):
        assert reader.poll_into(buffer) is None
    assert reader.spinning


def test_a_closed_peer_reads_as_zero(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    theirs.close()
    assert SpinReader(ours, 0.01).poll_into(bytearray(64)) == 0


def test_no_polling_with_no_budget_on_tls_or_on_one_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours, theirs = socket.socketpair()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    wrapped = context.wrap_socket(ours, do_handshake_on_connect=False)
    try:
        assert not can_spin(theirs, 0.0)
        assert not can_spin(wrapped, 0.01)  # its reads cannot be made non-blocking
        assert not SpinReader(wrapped, 0.01).spinning
        monkeypatch.setattr(spin, "usable_cpus", lambda: 1)
        assert not can_spin(theirs, 0.01)  # the server could not run meanwhile
        monkeypatch.undo()
        assert can_spin(theirs, 0.01) is (spin.usable_cpus() > 1)
    finally:
        wrapped.close()
        theirs.close()


def test_the_setting_reaches_the_sync_enqueuers_socket(prefix: str, redis_url: str) -> None:
    for budget, spinning in ((0.0, False), (0.0002, True)):
        settings = Settings(redis_url=redis_url, prefix=prefix, sync_read_spin=budget)
        with App("t", settings=settings).sync_client() as client:
            job = client.submit(JobRequest("t", force=True))
            wire = client._enqueuer._wire
            assert wire is not None and wire._spin.spinning is spinning
            assert client.job(job.id).task == "t"


def test_the_setting_is_checked() -> None:
    with pytest.raises(ValueError, match="sync_read_spin"):
        Settings(sync_read_spin=-1)
