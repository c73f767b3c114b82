"""A worker's start-up does not import the notification clients (httpx,
aiosmtplib): they load where an alert is actually sent (observe/channels.py)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_worker_leaves_the_notification_clients_unloaded() -> None:
    probe = (
        "import sys, chronoq.worker, chronoq.observe.channels\n"
        "print(sorted(m for m in ('httpx', 'aiosmtplib') if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert run.stdout.strip() == "[]"
