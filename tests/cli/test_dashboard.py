"""`chronoq dashboard` and `chronoq up` serving the site (API + dashboard) for
real: a uvicorn process on a free port, reached over HTTP."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.cli.helpers import Cli

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_served(base: str, process: subprocess.Popen[str], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"nothing served at {base} within {within}s")


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=30)
    finally:
        process.kill()


def test_up_serves_the_site_and_prints_its_url_and_a_first_token(
    redis_url: str, prefix: str
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "chronoq", "up", "tests.sample_app:app", "--redis-url",
               redis_url, "--prefix", prefix, "--dashboard-port", str(port)]  # fmt: skip
    up = subprocess.Popen(command, cwd=ROOT, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_served(base, up)
        assert httpx.get(f"{base}/v1/jobs").status_code == 401
        assert httpx.get(f"{base}/openapi.json").json()["openapi"].startswith("3.1")
        login = httpx.get(f"{base}/login")
        assert login.status_code == 200 and "token" in login.text.lower()
        assert httpx.get(f"{base}/", follow_redirects=False).status_code in (302, 303, 307)
    finally:
        out, err = stop(up)
    assert up.returncode == 0, err
    assert f"dashboard and API: {base}/" in out
    token = re.search(r"log in with (cq_\w+)", out)
    assert token is not None, out
    # The printed token is an admin token of this deployment.
    dash = subprocess.Popen(
        [sys.executable, "-m", "chronoq", "dashboard", "--redis-url", redis_url, "--prefix",
         prefix, "--port", str(port)],
        cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_until_served(base, dash)
        auth = {"Authorization": f"Bearer {token.group(1)}"}
        assert httpx.get(f"{base}/v1/queues", headers=auth).status_code == 200
    finally:
        out, _ = stop(dash)
    assert "log in with" not in out  # a token exists now: none is made


def test_dashboard_refuses_a_public_bind_with_no_token(cli: Cli) -> None:
    result = cli("dashboard", "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.code == 2
    assert "refusing to serve on 0.0.0.0 with no tokens" in result.err


def test_up_refuses_a_public_dashboard_with_no_token_before_starting(cli: Cli) -> None:
    result = cli("up", "tests.sample_app:app", "--dashboard-host", "0.0.0.0")
    assert result.code == 2 and "refusing to serve on 0.0.0.0" in result.err
