"""What a lock holder knows about its lease: shared by the async and the sync lock.

No I/O here. The lease's end is tracked on the client's monotonic clock, measured
from *before* the request that set or extended it, so the local deadline always
comes before the server's expiry (assuming both clocks advance at about the same
rate; they need not agree on the time of day). A holder past its local deadline is
told it lost the lock even if renewal never reported a problem: a paused process
(GC, a blocked event loop, a suspended VM) wakes up knowing.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from chronoq.core.errors import ConfigurationError, LockLost, LockTimeout
from chronoq.redis.keys import LockKeys
from chronoq.redis.locks import MAX_BLOCK, ScriptCall

log = logging.getLogger("chronoq.locks")

LostCallback = Callable[[LockLost], object]

MIN_TTL = 0.05  # seconds: a renewal every ttl/3 must leave room for a round trip
WAKE_TOKEN_MS = 5000  # a release's wake token outlives any waiter's acquire-to-BLPOP gap
MIN_BLOCK = 0.01  # BLPOP's timeout 0 means forever: never ask for less than this
RENEW_RETRY = 0.1  # pause between renewal attempts after a connection error

EXPIRED = "its lease ran out before it was renewed (the holder was paused, or Redis was "
EXPIRED += "unreachable, for longer than the ttl)"
GONE_AT_RENEWAL = "renewal found its token gone from Redis (the key expired, or was "
GONE_AT_RENEWAL += "deleted or overwritten)"
GONE_AT_RELEASE = "release found its token gone from Redis (the lease expired, and "
GONE_AT_RELEASE += "another holder may have taken the lock)"


@dataclass(frozen=True, slots=True)
class LockOptions:
    """How to take and keep a lock. Checked when the lock object is made."""

    ttl: float = 30.0
    timeout: float | None = None  # None: wait as long as it takes
    blocking: bool = True
    renew: bool = True

    def __post_init__(self) -> None:
        if not self.ttl >= MIN_TTL:
            raise ConfigurationError(f"lock ttl must be at least {MIN_TTL} s, got {self.ttl}")
        if self.timeout is not None and not self.timeout >= 0:
            raise ConfigurationError(f"lock timeout must be >= 0 s or None, got {self.timeout}")
        if self.timeout is not None and not self.blocking:
            raise ConfigurationError(
                "a lock timeout needs blocking=True (blocking=False never waits)"
            )

    @property
    def ttl_ms(self) -> int:
        return int(self.ttl * 1000)


class Lease:
    """The state of one lock object across its holds.

    The sync lock's renewal thread and its owner both touch it; `mark_lost` is
    guarded so that the loss is reported (and `on_lost` called) exactly once.
    """

    def __init__(self, keys: LockKeys, options: LockOptions, on_lost: LostCallback | None) -> None:
        self.keys = keys
        self.options = options
        self.on_lost = on_lost
        self.token: str | None = None  # set from acquire until release, lost or not
        self.deadline = 0.0  # monotonic; the lease surely still runs on the server before it
        self._fence: int | None = None
        self._lost: LockLost | None = None
        self._guard = threading.Lock()

    @property
    def name(self) -> str:
        return self.keys.name

    @property
    def fence(self) -> int:
        if self._fence is None:
            raise RuntimeError(f"lock {self.name!r} was never acquired: it has no fencing token")
        return self._fence

    @property
    def expired(self) -> bool:
        """Held by this object, and past the local deadline: surely gone on the server."""
        return self.token is not None and time.monotonic() >= self.deadline

    @property
    def lost(self) -> bool:
        return self._lost is not None or self.expired

    @property
    def held(self) -> bool:
        return self.token is not None and not self.lost

    @property
    def renewable(self) -> bool:
        """Worth renewing: renewal is on and the local deadline has not passed."""
        return self.options.renew and not self.expired

    @property
    def lost_error(self) -> LockLost | None:
        return self._lost

    @staticmethod
    def new_token() -> str:
        return secrets.token_hex(16)

    def acquire_call(self, token: str) -> ScriptCall:
        return [self.keys.holder, self.keys.fence], [token, self.options.ttl_ms]

    @property
    def registration(self) -> tuple[str, str]:
        """Where acquires record the lock's name, so operators can list it."""
        return self.keys.registry, self.keys.name

    def renew_call(self) -> ScriptCall:
        return [self.keys.holder], [self.token or "", self.options.ttl_ms]

    def release_call(self, token: str) -> ScriptCall:
        return [self.keys.holder, self.keys.wake], [token, WAKE_TOKEN_MS]

    def check_idle(self) -> None:
        if self.token is not None:
            raise RuntimeError(
                f"lock {self.name!r} is already held by this object (locks are not "
                "reentrant); release it first"
            )

    def begin(self, token: str, fence: int, sent_at: float) -> None:
        self.token, self._fence, self._lost = token, fence, None
        self.deadline = sent_at + self.options.ttl

    def extend(self, sent_at: float) -> None:
        if self._lost is None:
            self.deadline = max(self.deadline, sent_at + self.options.ttl)

    def end(self) -> None:
        """Forget the token: whatever the outcome of a release, this object no longer
        holds the lock (an unreleased lease just runs out on the server)."""
        self.token = None

    def mark_lost(self, reason: str) -> LockLost | None:
        """Record the loss; returns the error the first time only (for `on_lost`)."""
        with self._guard:
            if self._lost is not None:
                return None
            self._lost = LockLost(
                f"lock {self.name!r} (fence {self._fence}) was lost: {reason}",
                name=self.name,
                fence=self._fence,
            )
            return self._lost

    def call_on_lost(self, error: LockLost) -> object:
        """Run the callback; its failure is logged, never raised into the renewal."""
        if self.on_lost is None:
            return None
        try:
            return self.on_lost(error)
        except Exception:
            log.exception("on_lost callback of lock %r failed", self.name)
            return None

    def next_check(self) -> float:
        """Seconds until the watcher should act: renew every ttl/3, or (not renewing)
        wake at the deadline to report the lease's end."""
        if self.options.renew:
            return self.options.ttl / 3
        return max(0.0, self.deadline - time.monotonic())

    def block_for(self, holder_ms: int, waited: float) -> float | None:
        """How long a waiter blocks for a wake token: until the holder's lease ends
        (PTTL), at most until the timeout. None: the timeout is spent."""
        remaining = MAX_BLOCK
        if self.options.timeout is not None:
            remaining = self.options.timeout - waited
            if remaining <= 0:
                return None
        holder_left = holder_ms / 1000 + 0.002 if holder_ms >= 0 else MAX_BLOCK
        return max(MIN_BLOCK, min(holder_left, remaining, MAX_BLOCK))

    def timed_out(self, waited: float) -> LockTimeout:
        return LockTimeout(
            f"lock {self.name!r} not acquired within its timeout of {self.options.timeout} s "
            f"(waited {waited:.3f} s): another holder kept it",
            name=self.name,
            waited=waited,
        )

    def busy(self) -> LockTimeout:
        return LockTimeout(
            f"lock {self.name!r} is held by another holder (blocking=False: not waiting)",
            name=self.name,
        )


class LeaseView:
    """What the async and the sync lock both show of their lease."""

    _lease: Lease

    def __repr__(self) -> str:
        state = "held" if self.held else "lost" if self.lost else "free"
        return f"<{type(self).__name__} {self.name!r} {state}>"

    @property
    def name(self) -> str:
        return self._lease.name

    @property
    def fence(self) -> int:
        """The fencing token of the latest acquire: greater than every earlier one of
        this name. Pass it to what you write to; RuntimeError before any acquire."""
        return self._lease.fence

    @property
    def held(self) -> bool:
        """Acquired, not released, and the lease not known lost or run out."""
        return self._lease.held

    @property
    def lost(self) -> bool:
        """The lease ended before release (it stays true after release, until the
        next acquire). Checked against the local deadline too, so it is true right
        after a pause longer than the ttl, before any renewal runs."""
        return self._lease.lost
