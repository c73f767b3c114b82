"""`chronoq queues` still lists the counts; pause, resume and drain act on a queue;
`chronoq locks` lists and force-releases; `schedules pause --reason` stores it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chronoq import App
from chronoq.client import JobRequest
from chronoq.core.errors import LockLost
from tests.cli.helpers import Cli


def test_pause_resume_and_drain_from_the_command_line(cli: Cli, app: App) -> None:
    with app.sync_client() as client:
        for i in range(3):
            client.submit(JobRequest("t", [i], queue="mail", force=True))
    paused = cli("queues", "pause", "mail", "--reason", "smtp down", "--json").json()
    assert paused["paused"] is True and paused["reason"] == "smtp down" and paused["by"] == "cli"
    (row,) = cli("queues", "--json").json()
    assert row["paused"] is True and row["paused_reason"] == "smtp down" and row["waiting"] == 3
    assert "mail (paused)" in cli("queues").out
    assert "paused since" in cli("queues", "pause", "mail").out
    assert cli("queues", "resume", "mail", "--json").json() == {"queue": "mail", "resumed": True}
    assert "was not paused" in cli("queues", "resume", "mail").out
    drained = cli("queues", "drain", "mail", "--json").json()
    assert drained["cancelled"] == 3 and drained["ready"] == 3
    assert "cancelled 0 waiting job(s)" in cli("queues", "drain", "mail").out


def test_locks_from_the_command_line(cli: Cli, app: App) -> None:
    lock = app.sync_lock("nightly", ttl=30)
    with pytest.raises(LockLost), lock:  # the holder's release finds the lock taken from it
        _list_and_release(cli, lock.fence)


def _list_and_release(cli: Cli, fence: int) -> None:
    (listed,) = cli("locks", "list", "--json").json()
    assert listed["name"] == "nightly" and listed["held"] and listed["fence"] == fence
    assert "nightly" in cli("locks", "list", "--held").out
    assert (
        "was not held at that fence"
        in cli("locks", "release", "nightly", "--fence", str(fence + 1)).out
    )
    done = cli("locks", "release", "nightly", "--json").json()
    assert done == {"name": "nightly", "released": True, "fence": fence}


def test_schedules_pause_takes_a_reason(cli: Cli) -> None:
    assert cli("schedules", "add", "s", "--task", "t", "--spec", "@daily").code == 0
    body = cli("schedules", "pause", "s", "--reason", "quarter close", "--json").json()
    assert body["paused"] is True and body["pause_reason"] == "quarter close"


def test_schedule_history_and_backfill_from_the_command_line(cli: Cli) -> None:
    assert cli("schedules", "add", "h", "--task", "t", "--spec", "@hourly").code == 0
    now = datetime.now(UTC)
    window = [
        "--start",
        (now - timedelta(hours=2)).isoformat(),
        "--end",
        now.isoformat(),
        "--force",
    ]
    done = cli("schedules", "backfill", "h", *window, "--json").json()
    assert done["enqueued"] == 2
    assert "0 enqueued, 2 enqueued before" in cli("schedules", "backfill", "h", *window).out
    assert "has no UTC offset" in cli("schedules", "backfill", "h", "--start", "2026-01-01T00:00",
                                      "--end", now.isoformat()).err  # fmt: skip
    cli("schedules", "pause", "h", "--reason", "audit")
    records = cli("schedules", "history", "h", "--json").json()
    assert [r["kind"] for r in records] == ["paused", "backfilled", "backfilled"]
    out = cli("schedules", "history", "h").out
    assert "audit (by cli)" in out and "backfilled" in out
