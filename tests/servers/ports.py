"""Free TCP ports for the servers the tests start, safe across pytest-xdist workers and
across test runs side by side on one machine.

Probing a port and binding it later is a race: another worker may probe the same port
in between, and a test that SIGKILLs a server and restarts it on its port leaves that
port free meanwhile. So every port handed out here is *reserved* for the life of the
process that asked: an exclusive flock on a file named after the port, in one directory
every test process on the machine shares. The kernel drops the lock when the process
ends, even by SIGKILL, so a crashed run leaves nothing reserved. A port is never handed
out twice, so a restart always finds its port still ours.

Ports are drawn at random below the kernel's ephemeral range: the outgoing connections
tests make by the thousand take ephemeral ports, and must not take a port a server is
about to bind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

HOST = "127.0.0.1"
CLUSTER_BUS_OFFSET = 10000  # Redis Cluster's bus listens on port + 10000
_LOWEST = 10000  # below: well-known and registered services
_EPHEMERAL_FALLBACK = (32768, 60999)
_ATTEMPTS = 2000
_LOCK_DIR = Path(tempfile.gettempdir()) / "chronoq-test-ports"

_held: dict[int, int] = {}  # port -> the fd whose flock reserves it
_rng = random.Random()  # seeded from os.urandom: workers started together draw apart


class NoFreePort(AssertionError):
    """No port could be reserved (the message says which kind was asked for)."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return _EPHEMERAL_FALLBACK


def _candidates(with_cluster_bus: bool) -> range:
    """Ports below the ephemeral range (their bus port too, for Cluster nodes); a machine
    whose ephemeral range starts too low for that gets the ports above it."""
    low = _ephemeral_range()[0]
    top = low - CLUSTER_BUS_OFFSET if with_cluster_bus else low
    if top - _LOWEST >= 1000:
        return range(_LOWEST, top)
    high = _ephemeral_range()[1] + 1
    return range(high, 65536 - (CLUSTER_BUS_OFFSET if with_cluster_bus else 0))


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _reserve(port: int) -> bool:
    """Take the machine-wide lock on `port`; False when another live process holds it."""
    if port in _held:
        return False
    _LOCK_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(_LOCK_DIR / str(port), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _held[port] = fd
    return True


def _release(port: int) -> None:
    fd = _held.pop(port, None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def free_port(*, with_cluster_bus: bool = False) -> int:
    """A port nothing listens on and no other test process holds, reserved for this one
    (with its cluster bus port, for a Cluster node) until it exits."""
    candidates = _candidates(with_cluster_bus)
    for _ in range(_ATTEMPTS):
        port = _rng.choice(candidates)
        ports = [port, port + CLUSTER_BUS_OFFSET] if with_cluster_bus else [port]
        taken: list[int] = []
        for each in ports:
            if not _reserve(each):
                break
            taken.append(each)
            if not _bindable(each):
                break
        else:
            return port
        for each in taken:  # in use by something else: let it go, try another
            _release(each)
    kind = "with a free cluster bus port " if with_cluster_bus else ""
    raise NoFreePort(f"found no free port {kind}in {candidates} after {_ATTEMPTS} tries")
