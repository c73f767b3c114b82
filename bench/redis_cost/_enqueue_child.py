"""The enqueuing side of enqueue.py: `python _enqueue_child.py URL N` (chronoq from
PYTHONPATH). Connects and enqueues once, prints 'ready', waits for a line on stdin,
then makes N single enqueues of a plain no-op job and prints 'done'."""

from __future__ import annotations

import sys

from chronoq import App
from chronoq.core.settings import Settings


async def noop() -> None:
    return None


def main() -> None:
    url, jobs = sys.argv[1], int(sys.argv[2])
    settings = Settings(redis_url=url, prefix="ec", retention=60, keep_result=0)
    app = App("enqueue-cost", settings=settings)
    task = app.task(name="noop")(noop)
    with app.sync_client() as client:
        client.enqueue(task)  # connects and loads the library: not counted
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(jobs):
            client.enqueue(task)
        print("done", flush=True)


if __name__ == "__main__":
    main()
