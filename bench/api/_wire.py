"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the open-loop load.

httpx's connection pool scans every connection for every queued request (O(n^2)
under a burst): at 200 requests/s it became the bottleneck, the server sat idle
while the generator spent its CPU assigning requests. This one keeps idle
connections in a LIFO list and opens another when none is idle (up to `most`;
past that a request waits for one, and the wait is part of its latency). Replies
must carry Content-Length (uvicorn sets it for every non-streamed response). A
kept connection the server closed while it was idle (uvicorn's keep-alive
timeout) is retried once on another, as any HTTP client does.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class WireError(Exception):
    pass


class Wire:
    def __init__(self, host: str, port: int, headers: dict[str, str], most: int = 256) -> None:
        self.host = host
        self.port = port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.most = most
        self.opened = 0
        self.free = asyncio.Semaphore(most)

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """(status, body) of one request on an idle (or new) connection."""
        data = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.extra}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        raw = head.encode() + b"\r\n" + data
        async with self.free:
            while True:
                reused = bool(self.idle)
                if reused:
                    reader, writer = self.idle.pop()
                else:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                    self.opened += 1
                try:
                    writer.write(raw)
                    status, payload, keep = await _reply(reader)
                except asyncio.IncompleteReadError as exc:
                    writer.close()
                    if reused and not exc.partial:  # the server closed it while idle
                        continue
                    raise
                except BaseException:
                    writer.close()
                    raise
                if keep:
                    self.idle.append((reader, writer))
                else:
                    writer.close()
                return status, payload

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def _reply(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, keep = None, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
        elif name == "transfer-encoding":
            raise WireError("chunked replies are not read by this client")
    if length is None:
        raise WireError(f"a reply with no Content-Length: {lines[0]}")
    return status, await reader.readexactly(length), keep
