"""Task functions for the rq runner (imported by `rq worker` with cwd = bench/systems)."""

from __future__ import annotations

import _common as C


def noop() -> None:
    return None


def stamp(t: float) -> None:
    C.record_start(t)
