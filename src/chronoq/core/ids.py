"""Job ids: time-ordered (they sort by creation) and unguessable, 26 characters."""

import os
import time


def new_job_id() -> str:
    """48 bits of milliseconds then 56 random bits, in hex (sorts like creation time)."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(7).hex()}"


def new_token() -> str:
    """A random lease or lock token."""
    return os.urandom(8).hex()


def created_ms(job_id: str) -> int | None:
    """The creation time (epoch ms, the enqueuer's clock) a job id carries; None for
    an id not made by `new_job_id`."""
    head = job_id[:12]
    if len(job_id) != 26 or len(head) != 12:
        return None
    try:
        return int(head, 16)
    except ValueError:
        return None
