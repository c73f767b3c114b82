"""Job ids: time-ordered (they sort by creation), unguessable, 26 characters, and
carrying a 16-bit tag of their queue's name.

The tag lets a reader find a job's queue without asking every queue (`queue_tag`):
of the queues the prefix knows, only those with the id's tag can hold it (almost
always one). It costs enqueue nothing: no index entry per job, no key outside the
queue's hash slot. Ids without a matching tag (made before tags, or given by hand)
are still found, by asking the other queues.
"""

import os
import time
import zlib
from functools import lru_cache

TAG_START, TAG_END = 12, 16  # hex digits of the id holding the queue tag


def new_job_id(queue: str = "") -> str:
    """48 bits of milliseconds, 16 bits of the queue's tag, then 40 random bits, in hex
    (sorts like creation time)."""
    return f"{time.time_ns() // 1_000_000:012x}{queue_tag(queue)}{os.urandom(5).hex()}"


@lru_cache(maxsize=1024)
def queue_tag(queue: str) -> str:
    """Four hex digits derived from a queue's name (CRC-32, low 16 bits); cached, as
    every enqueue asks."""
    return f"{zlib.crc32(queue.encode()) & 0xFFFF:04x}"


def id_tag(job_id: str) -> str:
    """The queue tag an id carries (meaningless for ids not made by `new_job_id`)."""
    return job_id[TAG_START:TAG_END]


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
