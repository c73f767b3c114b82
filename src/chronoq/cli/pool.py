"""`chronoq up` with recycling: every worker a child process, replaced when it retires.

A worker given `--max-jobs` or `--max-memory` stops by itself once it reaches
either (`chronoq.worker.recycling`) and exits with status 0, its unfinished jobs
handed back. While `up` is not stopping, a child that exits 0 was recycled and a
fresh one starts in its place at once. A child that exits non-zero (a failed
worker loop, an unusable Redis) stops the others and `up` exits 1, as without
recycling. SIGTERM or SIGINT to `up` passes on to every child (a second one too,
which stops them at once) and `up` waits for them to finish.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("chronoq.worker")

POLL = 0.1  # how often the pool looks at its children: a recycled one is replaced this fast
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
Handler = Callable[[int, FrameType | None], object] | int | None

Spawn = Callable[[], subprocess.Popen[bytes]]


class WorkerPool:
    """`size` worker processes, each started by `spawn`, kept running until a signal."""

    def __init__(self, spawn: Spawn, size: int) -> None:
        self._spawn = spawn
        self._size = size
        self.children: list[subprocess.Popen[bytes]] = []
        self.stopping = False
        self.failure: str | None = None
        self._told: list[subprocess.Popen[bytes]] = []  # the children sent a stop signal

    def run(self) -> str | None:
        """Serve until a signal or a failed child; the failure's description, or None."""
        previous: dict[signal.Signals, Handler] = {
            sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS
        }
        try:
            self.children = [self._spawn() for _ in range(self._size)]
            while not (self.stopping and self._all_exited()):
                self._look()
                if self.stopping:  # also one started as the signal came
                    self._send(signal.SIGTERM, untold_only=True)
                time.sleep(POLL)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            stop_children(self.children)
        return self.failure

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        self._send(signal.Signals(signum))

    def _look(self) -> None:
        for index, child in enumerate(self.children):
            status = child.poll()
            if status is None or self.stopping:
                continue
            if status == 0:
                fresh = self._spawn()
                self.children[index] = fresh
                log.info("chronoq up: worker process %d recycled; started %d", child.pid, fresh.pid)
                continue
            self.failure = f"worker process {child.pid} exited with status {status}"
            log.error("chronoq up: %s; stopping the others", self.failure)
            self.stopping = True
            self._send(signal.SIGTERM)

    def _send(self, sig: signal.Signals, *, untold_only: bool = False) -> None:
        for child in self.children:
            if child.poll() is None and not (untold_only and child in self._told):
                child.send_signal(sig)
                if child not in self._told:
                    self._told.append(child)

    def _all_exited(self) -> bool:
        return all(child.poll() is not None for child in self.children)


def spawner(command: list[str]) -> Spawn:
    def spawn() -> subprocess.Popen[bytes]:
        # Own session: the terminal's Ctrl-C reaches only `up`, which passes it on once.
        return subprocess.Popen(command, start_new_session=True, env=os.environ.copy())

    return spawn


def stop_children(children: list[subprocess.Popen[bytes]], patience: float = 60) -> None:
    """SIGTERM each child still running, wait `patience` seconds for it, then kill it."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=patience)
        except subprocess.TimeoutExpired:
            child.kill()
