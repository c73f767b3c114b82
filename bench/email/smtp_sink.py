"""The bench's SMTP server: aiosmtpd on loopback answering every step with its
success reply and counting the messages (it keeps none). Run as its own process
so its CPU is not the worker's:

    python bench/email/smtp_sink.py   # prints "ready PORT"; on SIGTERM "received N"
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        return f"250 OK queued as b{self.received}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def main() -> None:
    handler = Counter()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"ready {port}", flush=True)
    stop.wait()
    controller.stop()
    print(f"received {handler.received}", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
