"""A recording TCP proxy in front of the test Redis.

Clients pointed at it reach the real server; every command they send is parsed
(RESP, with hiredis) and kept. So a test sees the exact commands of real callers,
whatever client, pipeline or hand-packed connection sends them, with no MONITOR and
nothing of chronoq's replaced.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit

import hiredis

Command = list[bytes]


class RecordingProxy:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._db = parts.path or "/0"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._sockets: list[socket.socket] = [self._listener]
        self._lock = threading.Lock()
        self.commands: list[Command] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._listener.getsockname()[1]}{self._db}"

    def take(self) -> list[Command]:
        """The commands recorded since the last call."""
        with self._lock:
            taken, self.commands = self.commands, []
        return taken

    def close(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self._upstream)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        reader = hiredis.Reader()
        try:
            while data := source.recv(65536):
                if record:
                    reader.feed(data)
                    while (command := reader.gets()) is not False:
                        with self._lock:
                            self.commands.append(command)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
