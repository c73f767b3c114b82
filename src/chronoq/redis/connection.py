"""`connect(url)`: an async client for a URL with default options, for tests and
benchmarks. chronoq itself builds every client through a `Connector` carrying the
settings (TLS files, Sentinel credentials); the start-up check lives in
`chronoq.redis.server_check`."""

from __future__ import annotations

from redis.asyncio import Redis

from chronoq.redis.connector import COMMAND_TIMEOUT, Connector, short_retry

__all__ = ["COMMAND_TIMEOUT", "Connector", "connect", "short_retry"]


def connect(url: str, *, blocking_timeout: float | None = None) -> Redis:
    return Connector(url).async_client(blocking_timeout=blocking_timeout)
