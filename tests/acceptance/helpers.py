"""Real processes for the acceptance tests: the command line as a subprocess, a free
port, and waiting for a server to answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def env() -> dict[str, str]:
    """This checkout's code and tests importable in the child."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}


def run_cli(
    args: list[str], redis_url: str, prefix: str, *, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "chronoq", *args, "--redis-url", redis_url, "--prefix", prefix]
    return subprocess.run(command, cwd=ROOT, env=env(), capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(probe: Callable[[], T], process: subprocess.Popen[str], within: float = 45) -> T:
    """probe() once it stops raising a transport error (the server is up)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            return probe()
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"no answer within {within}s")
