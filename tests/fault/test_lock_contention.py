"""Four processes contend for one lock for 30 s; some pause past their lease while
holding it. A recorder outside them accepts a write only with a fencing token
higher than any it has seen.

Checks: every write the recorder refused came from a paused holder that then
learned it had lost the lock; every paused holder learned it; holders that did
not pause never overlapped and never had a write refused.
"""

from __future__ import annotations

import itertools
import json
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from chronoq.redis.keys import Keyspace
from tests.fault.helpers import ONE_AT_A_TIME, ROOT

PROCESSES = 4
SECONDS = 30


class Recorder(socketserver.ThreadingTCPServer):
    """The system the holders write to: it keeps the highest fence it has seen."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.guard = threading.Lock()
        self.highest = 0
        self.accepted: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []

    def judge(self, write: dict[str, Any]) -> str:
        with self.guard:
            if write["fence"] > self.highest:
                self.highest = write["fence"]
                self.accepted.append(write)
                return "ok"
            self.rejected.append(write)
            return "rejected"


class _Handler(socketserver.StreamRequestHandler):
    server: Recorder

    def handle(self) -> None:
        for line in self.rfile:
            verdict = self.server.judge(json.loads(line))
            self.wfile.write(verdict.encode() + b"\n")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def run_contenders(redis_url: str, prefix: str, port: int) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", "tests.fault.lock_contender", redis_url, prefix, str(port)]
    processes = [
        subprocess.Popen(
            [*command, str(SECONDS), str(seed)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for seed in range(PROCESSES)
    ]
    holds: list[dict[str, Any]] = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=SECONDS + 20)
            assert process.returncode == 0, err.decode()
            holds += json.loads(out)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(5)
    return holds


@ONE_AT_A_TIME
def test_fencing_refuses_every_superseded_holder(
    redis_url: str, prefix: str, recorder: Recorder
) -> None:
    holds = run_contenders(redis_url, prefix, recorder.server_address[1])
    paused = [h for h in holds if h["paused"]]
    steady = [h for h in holds if not h["paused"]]
    assert len({h["pid"] for h in holds}) == PROCESSES  # every process got the lock
    assert len(steady) > 100 and len(paused) >= 3, (len(steady), len(paused))
    fences = [h["fence"] for h in holds]
    assert len(set(fences)) == len(fences)  # one fence per acquire

    # What the recorder saw matches what the holders were told.
    refused = [h for h in holds if h["verdict"] == "rejected"]
    assert len(refused) == len(recorder.rejected)
    assert len(holds) == len(recorder.accepted) + len(recorder.rejected)
    assert sorted(h["fence"] for h in refused) == sorted(w["fence"] for w in recorder.rejected)

    # Superseded holders were refused, and each was a paused one that learned it.
    assert refused, "no paused holder was superseded: the scenario did not happen"
    for hold in refused:
        assert hold["paused"], hold
        assert hold["lock_lost"] and hold["lost_flag"] and hold["on_lost_called"], hold
    # Every paused holder learned it lost its lease, refused or not.
    for hold in paused:
        assert hold["lost_before_write"] and hold["lock_lost"], hold
        assert hold["lost_flag"] and hold["on_lost_called"], hold

    # Holders that did not pause kept the lock to themselves, and were never refused.
    for hold in steady:
        assert hold["verdict"] == "ok" and not hold["lock_lost"], hold
    steady.sort(key=lambda h: h["acquired"])
    for before, after in itertools.pairwise(steady):
        assert after["acquired"] >= before["released"], (before, after)
        assert after["fence"] > before["fence"]

    # Each loss was counted once, in Redis, by the process that lost it; so was
    # every acquire that found the lock taken.
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        counts = client.hgetall(Keyspace(prefix).ops.totals)
    finally:
        client.close()
    assert int(counts["lock\tshared\tlost"]) == sum(1 for h in holds if h["lock_lost"])
    assert int(counts["lock\tshared\tcontended"]) > 0
