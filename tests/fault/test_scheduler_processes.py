"""Three scheduler processes, one SIGKILLed midway: every tick enqueued exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import redis

from chronoq.redis.keys import Keyspace
from tests.fault.helpers import ONE_AT_A_TIME, ROOT
from tests.servers.polling import wait_for

SECONDS = 32


def start_scheduler(redis_url: str, prefix: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "chronoq", "scheduler", "tests.sched_app:app"]
    command += ["--redis-url", redis_url, "--prefix", prefix]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def run_times(raw: redis.Redis, prefix: str) -> list[int]:
    keys = raw.scan_iter(match=f"{prefix}:{{default}}:job:*", count=1000)
    return sorted(int(str(raw.hget(k, "idem")).rsplit(":", 1)[1]) for k in keys)


@ONE_AT_A_TIME
@pytest.mark.timeout(90)  # 32 s of ticks, after a start-up that is slow under load
def test_every_tick_once_while_one_of_three_schedulers_is_killed(
    raw: redis.Redis, redis_url: str, prefix: str
) -> None:
    processes = [start_scheduler(redis_url, prefix) for _ in range(3)]
    try:
        # The clock starts once all three loops beat (start-up is slow on a loaded box).
        loops = Keyspace(prefix).schedulers
        wait_for("three scheduler loops", lambda: raw.zcard(loops) == 3, timeout=30)
        time.sleep(SECONDS / 2)
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait(5)
        time.sleep(SECONDS / 2)
        for survivor in processes[1:]:
            assert survivor.poll() is None, "a surviving scheduler exited"
            survivor.send_signal(signal.SIGTERM)
        for survivor in processes[1:]:
            assert survivor.wait(10) == 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(5)
    times = run_times(raw, prefix)
    assert len(times) >= SECONDS - 3, times
    assert times == list(range(times[0], times[0] + 1000 * len(times), 1000))  # no gap
    runs = int(raw.hget(f"{prefix}:{{~sched}}:runs", "tick") or 0)
    assert runs == len(times)  # each run counted once
    assert times[0] % 1000 == 0  # whole seconds, as the cron spec says
