"""The app of the fan-out fault test: a chain step that makes the items, a fan-out
of one branch per item and a fan-in. Every step records its start (pid and node)
and then its side effect (a count per node) in Redis.

The victim worker (started with WF_VICTIM=1) runs its branches like the others
until the test arms the trap (the key `<prefix>:armed`): from then on each branch
it starts records itself as held and blocks before its effect, so the SIGKILL
that follows lands mid-branch on every slot, never between an effect and the
outcome's write."""

from __future__ import annotations

import os
import time
from typing import Any

import redis

from chronoq import App, Chain, Step, fan_out

app = App("wf-fanout-fault")
_redis = redis.Redis.from_url(os.environ.get("WF_REDIS", "redis://127.0.0.1:6379/0"))
_KEY = os.environ.get("WF_KEY", "wf-fanout-fault")
_VICTIM = os.environ.get("WF_VICTIM") == "1"
WORK = 0.1  # seconds a branch takes


def _started(node: str) -> None:
    _redis.rpush(f"{_KEY}:starts", f"{os.getpid()}:{node}")


def _effect(node: str) -> None:
    _redis.hincrby(f"{_KEY}:effects", node, 1)


@app.task(name="wf.items", max_retries=5)
def items(count: int) -> list[int]:
    _started("items")
    _effect("items")
    return list(range(count))


@app.task(name="wf.branch", max_retries=5)
def branch(item: int) -> int:
    node = f"b{item}"
    _started(node)
    if _VICTIM and _redis.exists(f"{_KEY}:armed"):
        _redis.rpush(f"{_KEY}:held", f"{os.getpid()}:{node}")
        time.sleep(3600)  # the SIGKILL lands here, before the effect
    time.sleep(WORK)
    _effect(node)
    return item * item


@app.task(name="wf.gather", max_retries=5)
def gather(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    _started("in")
    _effect("in")
    ok = [o for o in outcomes if o["status"] == "succeeded"]
    return {
        "seen": [o["item"] for o in outcomes],
        "succeeded": len(ok),
        "sum": sum(o["result"] for o in ok),
    }


def workflow(branches: int) -> Chain:
    """items(branches) -> one branch per item -> gather."""
    return Chain([Step(items, branches), fan_out(branch), Step(gather)], name="fanout-fault")
