"""The app of the workflow fault test: every step records when it starts (pid and
step) and, after a short sleep, its side effect (a count per step) in Redis."""

from __future__ import annotations

import os
import time
from typing import Any

import redis

from chronoq import App, Chain, Step, fan_out

app = App("wf-fault")
_redis = redis.Redis.from_url(os.environ.get("WF_REDIS", "redis://127.0.0.1:6379/0"))
_KEY = os.environ.get("WF_KEY", "wf-fault")
SLEEP = 0.3


def _run(step: str) -> None:
    _redis.rpush(f"{_KEY}:starts", f"{os.getpid()}:{step}")
    time.sleep(SLEEP)  # a SIGKILL lands here, before the effect
    _redis.hincrby(f"{_KEY}:effects", step, 1)


@app.task(name="wf.link", max_retries=5)
def link(x: int) -> int:
    _run(f"s{x}")
    return x + 1


@app.task(name="wf.branch", max_retries=5)
def branch(item: int) -> int:
    _run(f"b{item}")
    return item


@app.task(name="wf.gather", max_retries=5)
def gather(outcomes: list[dict[str, Any]]) -> int:
    _run("in")
    return sum(o["result"] for o in outcomes if o["status"] == "succeeded")


def workflow(links: int, branches: int) -> Chain:
    steps: list[Any] = [Step(link, 0)]
    steps += [Step(link) for _ in range(links - 1)]
    steps += [fan_out(branch, list(range(branches))), Step(gather)]
    return Chain(steps, name="fault")
