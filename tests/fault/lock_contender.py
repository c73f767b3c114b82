"""One process contending for a lock, for tests/fault/test_lock_contention.py.

`python -m tests.fault.lock_contender URL PREFIX RECORDER_PORT SECONDS SEED`

Loops until SECONDS have passed: take the lock "shared", sometimes pause while
holding it (a blocking `time.sleep` on the event loop thread, longer than the
ttl, so renewal cannot run), write its fencing token to the recorder (a TCP
server in the test process), release. Prints one JSON list of its holds.
Timestamps are `time.monotonic()`: on Linux one clock for every process.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from typing import Any

from chronoq import App
from chronoq.core.errors import LockLost, LockTimeout

TTL = 1.0
PAUSE = 2.5  # > TTL: the lease runs out during the pause
PAUSE_PROBABILITY = 0.1


class Recorder:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def write(self, fence: int, paused: bool) -> str:
        line = json.dumps({"pid": os.getpid(), "fence": fence, "paused": paused})
        self.writer.write(line.encode() + b"\n")
        await self.writer.drain()
        return (await self.reader.readline()).decode().strip()


async def hold(app: App, recorder: Recorder, pause: bool) -> dict[str, Any] | None:
    told: list[float] = []
    lock = app.lock("shared", ttl=TTL, timeout=5, on_lost=lambda _: told.append(time.monotonic()))
    try:
        await lock.acquire()
    except LockTimeout:
        return None
    record: dict[str, Any] = {"pid": os.getpid(), "fence": lock.fence, "paused": pause}
    record["acquired"] = time.monotonic()
    if pause:
        time.sleep(PAUSE)  # noqa: ASYNC251 (blocks the event loop on purpose: no renewal)
    else:
        await asyncio.sleep(random.uniform(0.001, 0.01))
    record["lost_before_write"] = lock.lost
    record["verdict"] = await recorder.write(lock.fence, pause)
    record["released"] = time.monotonic()
    try:
        await lock.release()
        record["lock_lost"] = False
    except LockLost:
        record["lock_lost"] = True
    record["lost_flag"] = lock.lost
    record["on_lost_called"] = bool(told)
    return record


async def main(url: str, prefix: str, port: int, seconds: float, seed: int) -> None:
    random.seed(seed)
    app = App("contender", redis_url=url, prefix=prefix)
    recorder = Recorder(*await asyncio.open_connection("127.0.0.1", port))
    holds: list[dict[str, Any]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        record = await hold(app, recorder, random.random() < PAUSE_PROBABILITY)
        if record is not None:
            holds.append(record)
        await asyncio.sleep(random.uniform(0, 0.003))
    recorder.writer.close()
    await recorder.writer.wait_closed()
    print(json.dumps(holds))


if __name__ == "__main__":
    url, prefix, port, seconds, seed = sys.argv[1:6]
    asyncio.run(main(url, prefix, int(port), float(seconds), int(seed)))
