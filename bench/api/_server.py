"""The served site for bench/api: `chronoq.cli.dashboard.serve` (what `chronoq
dashboard` runs: uvicorn, create_site, access log off), in a process of its own,
with the history bench's app (tasks task0..task9 on queue `hist`) and a no-op task
`noop` on queue `api` (what the load's enqueues name).

    python bench/api/_server.py REDIS_URL PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "observe")]

import _history  # noqa: E402

from chronoq import App  # noqa: E402
from chronoq.cli.dashboard import serve  # noqa: E402

LOAD_QUEUE = "api"


def make_app(url: str) -> App:
    app = _history.make_app(url)

    @app.task(name="noop", queue=LOAD_QUEUE)
    async def noop(n: int = 0) -> None:
        del n

    return app


if __name__ == "__main__":
    serve(make_app(sys.argv[1]), "127.0.0.1", int(sys.argv[2]), "warning")
