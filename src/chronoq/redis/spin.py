"""Spin, then block: waiting for a reply that is microseconds away.

A thread that blocks in recv() lets its CPU go idle, and on a virtual machine an
idle vCPU halts: waking it when the reply lands costs more than a local round trip
itself. On the 2-vCPU bench VM a PING to a local Redis took about 90 us when the
reader blocked and about 32 us when it polled the socket, for the same CPU time
(`bench/client/spin.py`). So the sync enqueuer, whose caller waits on each
reply, polls its socket with non-blocking reads for a short budget before it
blocks, as low-latency clients and the kernel's own busy polling (SO_BUSY_POLL) do.

The waste is bounded: a reply that has not come within the budget is a miss, and
after MISS_LIMIT misses in a row (a distant server, a slow script) polling stops for
the next PAUSE_READS reads, then is tried again. There is no polling on a single
CPU (the server could not run meanwhile), nor on a TLS socket (its reads cannot be
made non-blocking one call at a time), nor with a budget of 0 (the
`sync_read_spin` setting).
"""

from __future__ import annotations

import os
import socket
import time

from chronoq.core.settings import DEFAULT_SYNC_READ_SPIN

MISS_LIMIT = 4
PAUSE_READS = 1000


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_spin(sock: socket.socket, budget: float) -> bool:
    """Whether reads on `sock` may poll: a plain socket, a budget, another CPU."""
    return budget > 0 and type(sock) is socket.socket and usable_cpus() > 1


class SpinReader:
    """Reads what has arrived on one socket by polling it for up to a budget."""

    def __init__(self, sock: socket.socket, budget: float = DEFAULT_SYNC_READ_SPIN) -> None:
        self._sock = sock
        self._fd = sock.fileno()
        self._budget = budget if can_spin(sock, budget) else 0.0
        # A socket with a timeout has its descriptor in non-blocking mode (Python
        # polls before each recv), so a plain read(2) returns at once; a socket
        # without one is blocking, and only MSG_DONTWAIT keeps recv from waiting.
        self._fd_nonblocking = sock.gettimeout() is not None
        self._misses = 0
        self._paused = 0

    @property
    def spinning(self) -> bool:
        return self._budget > 0 and self._paused == 0

    def poll_into(self, buffer: bytearray) -> int | None:
        """Bytes read into `buffer` (0: the peer closed), or None when nothing came
        within the budget or polling is off: the caller then blocks as usual.
        Socket errors are raised as OSError."""
        if self._budget <= 0:
            return None
        if self._paused:
            self._paused -= 1
            return None
        deadline = time.perf_counter() + self._budget
        while True:
            try:
                if self._fd_nonblocking:
                    count = os.readv(self._fd, (buffer,))
                else:
                    count = self._sock.recv_into(buffer, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                if time.perf_counter() < deadline:
                    continue
                self._miss()
                return None
            self._misses = 0
            return count

    def _miss(self) -> None:
        self._misses += 1
        if self._misses >= MISS_LIMIT:
            self._misses = 0
            self._paused = PAUSE_READS
