"""The embedded Valkey: starts with persistence, survives restarts, races, SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from chronoq.core.errors import ConfigurationError
from chronoq.redis.embedded import EmbeddedServer, resolve_redis_url


@pytest.fixture
def server() -> Iterator[EmbeddedServer]:
    # A short directory: pytest's tmp_path can exceed the ~107-byte unix socket limit.
    folder = Path(tempfile.mkdtemp(prefix="cq-", dir="/tmp"))
    embedded = EmbeddedServer(folder / "data")
    try:
        yield embedded
    finally:
        embedded.stop()
        shutil.rmtree(folder, ignore_errors=True)


def connect(server: EmbeddedServer) -> redis.Redis:
    return redis.Redis.from_url(server.url, decode_responses=True)


def test_starts_persistent_and_safe(server: EmbeddedServer) -> None:
    assert not server.is_running()
    url = server.ensure_running()
    assert url == f"unix://{server.data_dir}/valkey.sock"
    conn = connect(server)
    assert conn.ping()
    assert conn.config_get("appendonly")["appendonly"] == "yes"
    assert conn.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    conn.close()


def test_data_survives_a_restart(server: EmbeddedServer) -> None:
    server.ensure_running()
    conn = connect(server)
    conn.set("kept", "yes")
    conn.close()
    server.stop()
    assert not server.is_running()
    server.ensure_running()
    conn = connect(server)
    assert conn.get("kept") == "yes"
    conn.close()


def test_racing_starts_make_one_server(server: EmbeddedServer) -> None:
    with ThreadPoolExecutor(4) as pool:
        urls = list(pool.map(lambda _: EmbeddedServer(server.data_dir).ensure_running(), range(4)))
    assert len(set(urls)) == 1
    pid = int(server.pidfile.read_text())
    conn = connect(server)
    assert int(conn.info("server")["process_id"]) == pid
    conn.close()


def test_restarts_after_sigkill_leaves_stale_files(server: EmbeddedServer) -> None:
    server.ensure_running()
    pid = int(server.pidfile.read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while server.is_running() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.socket.exists()  # stale socket left behind
    server.ensure_running()
    assert server.is_running()
    assert int(server.pidfile.read_text()) != pid


def test_stop_is_idempotent(server: EmbeddedServer) -> None:
    server.stop()
    server.ensure_running()
    server.stop()
    server.stop()
    assert not server.is_running()


def test_configured_url_wins(tmp_path: Path) -> None:
    assert resolve_redis_url("redis://example:6379/0", tmp_path) == "redis://example:6379/0"


def test_unwritable_data_dir_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="not writable"):
        EmbeddedServer(Path("/proc/chronoq")).ensure_running()
