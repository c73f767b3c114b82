"""Job ids: time-ordered (they sort by creation) and unguessable, 26 characters."""

import os
import time


def new_job_id() -> str:
    """48 bits of milliseconds then 56 random bits, in hex (sorts like creation time)."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(7).hex()}"


def new_token() -> str:
    """A random lease or lock token."""
    return os.urandom(8).hex()
