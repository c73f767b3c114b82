"""Actors for the dramatiq runner (`dramatiq dramatiq_tasks`, cwd = bench/systems)."""

from __future__ import annotations

import os

import _common as C
import dramatiq
from dramatiq.brokers.redis import RedisBroker

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")

broker = RedisBroker(url=URL)  # default middleware; no Results middleware: no results
dramatiq.set_broker(broker)


@dramatiq.actor
def noop() -> None:
    return None


@dramatiq.actor
def stamp(t: float) -> None:
    C.record_start(t)
