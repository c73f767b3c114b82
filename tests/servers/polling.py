"""Waiting for a state on a loaded machine: poll with a generous deadline, never sleep-and-hope."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis


class StateNotReachedError(AssertionError):
    """The servers did not reach the state a test waits for; says what was seen last."""


def wait_for(what: str, check: Callable[[], object], timeout: float, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy and return that. A Redis or socket
    error counts as "not yet" (a node that is down or loading), and is reported last."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (redis.RedisError, OSError) as exc:
            result, last = None, exc
        else:
            last = result
        if result:
            return result
        time.sleep(interval)
    raise StateNotReachedError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")
