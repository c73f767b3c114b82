"""The enqueuing side of enqueue.py: `python _enqueue_child.py URL N [handoff]` (chronoq
from PYTHONPATH). Connects and enqueues once, prints 'ready', waits for a line on stdin,
then makes N single enqueues of a plain no-op job and prints 'done'. With `handoff`, an
idle worker registration with a place for every job is written before 'ready' (scored
a day ahead, so it stays live however slowly callgrind runs the server)."""

from __future__ import annotations

import sys

import redis

from chronoq import App
from chronoq.core.settings import Settings
from chronoq.redis.keys import Keyspace


async def noop() -> None:
    return None


def register_idle(url: str, places: int) -> None:
    q = Keyspace("ec").queue("default")
    with redis.Redis.from_url(url) as r:
        now_ms = int(r.time()[0]) * 1000
        r.zadd(q.idle, {"cost-worker": now_ms + 86_400_000})
        r.hset(q.idle_leases, "cost-worker", f"cost-token|60000|{places}")


def main() -> None:
    url, jobs = sys.argv[1], int(sys.argv[2])
    settings = Settings(redis_url=url, prefix="ec", retention=60, keep_result=0)
    app = App("enqueue-cost", settings=settings)
    task = app.task(name="noop")(noop)
    with app.sync_client() as client:
        client.enqueue(task)  # connects and loads the library: not counted
        if len(sys.argv) > 3 and sys.argv[3] == "handoff":
            register_idle(url, jobs)
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(jobs):
            client.enqueue(task)
        print("done", flush=True)


if __name__ == "__main__":
    main()
