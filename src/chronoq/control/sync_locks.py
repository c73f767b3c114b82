"""The distributed lock for sync code: `with app.sync_lock(name) as lock:`.

The same scripts, key layout and guarantees as the async `Lock` (see
`chronoq.control.locks`), on blocking redis-py connections, so it works from any
thread: a plain `def` task in the worker's thread pool, a WSGI view, a script.
While held, a daemon thread of its own (reused across holds) renews the lease
every ttl/3 and reports its loss; it takes its own connection from the pool (the
pool is thread-safe), so renewal goes on while the holder's thread is busy.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from chronoq.control.lease import (
    EXPIRED,
    GONE_AT_RELEASE,
    GONE_AT_RENEWAL,
    RENEW_RETRY,
    Lease,
    LeaseView,
    LockOptions,
    LostCallback,
    log,
)
from chronoq.redis.errors import RedisError
from chronoq.redis.keys import LockKeys
from chronoq.redis.locks import SyncLockClients


class _Watchers:
    """Renewal threads, reused across holds: starting a thread costs more than the
    lock's two round trips. Each held lock still has a thread to itself (a slow
    renewal of one lock never delays another's); an idle thread exits after a while.
    """

    IDLE_EXIT = 30.0

    def __init__(self) -> None:
        self._idle: list[queue.SimpleQueue[Callable[[], None]]] = []
        self._guard = threading.Lock()

    def run(self, job: Callable[[], None]) -> None:
        with self._guard:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            thread = threading.Thread(
                target=self._serve, args=(inbox,), name="chronoq-lock-renewal", daemon=True
            )
            thread.start()
        inbox.put(job)

    def _serve(self, inbox: queue.SimpleQueue[Callable[[], None]]) -> None:
        while True:
            try:
                job = inbox.get(timeout=self.IDLE_EXIT)
            except queue.Empty:
                with self._guard:
                    if inbox in self._idle:  # else it was just handed a job: stay
                        self._idle.remove(inbox)
                        return
                continue
            job()
            with self._guard:
                self._idle.append(inbox)


class SyncLock(LeaseView):
    """A distributed lock for sync code. Make one with `app.sync_lock(name, ...)`;
    use it as `with app.sync_lock(...) as lock:` or `acquire()` / `release()`.

    Same semantics as the async `Lock`: `fence`, `held`, `lost`, `on_lost` (called
    from the renewal thread, or from `release`), LockLost on release after a loss,
    LockTimeout when a wait runs out. Not reentrant.
    """

    def __init__(
        self,
        clients: SyncLockClients,
        keys: LockKeys,
        options: LockOptions,
        on_lost: LostCallback | None = None,
    ) -> None:
        self._clients = clients
        self._lease = Lease(keys, options, on_lost)
        self._stop = threading.Event()

    def __enter__(self) -> SyncLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def try_acquire(self) -> bool:
        """Take the lock if it is free, without waiting. True when taken."""
        self._lease.check_idle()
        if self._attempt(self._lease.new_token()) is None:
            return True
        self._clients.count(self._lease.keys, "contended")
        return False

    def acquire(self) -> None:
        """Take the lock, waiting up to the timeout (forever when None); LockTimeout
        when the wait ran out, or at once with blocking=False."""
        lease = self._lease
        lease.check_idle()
        token = lease.new_token()
        started = time.monotonic()
        contended = False
        while (holder_ms := self._attempt(token)) is not None:
            if not contended:  # counted once per acquire that found the lock taken
                contended = True
                self._clients.count(lease.keys, "contended")
            if not lease.options.blocking:
                raise lease.busy()
            waited = time.monotonic() - started
            block = lease.block_for(holder_ms, waited)
            if block is None:
                self._clients.count(lease.keys, "timeout")
                raise lease.timed_out(waited)
            self._clients.wait(lease.keys.wake, block)

    def _attempt(self, token: str) -> int | None:
        lease = self._lease
        sent = time.monotonic()
        taken, value = self._clients.acquire(
            lease.acquire_call(token), lease.release_call(token), lease.registration
        )
        if not taken:
            return int(value)
        lease.begin(token, int(value), sent)
        stop = self._stop = threading.Event()
        _WATCHERS.run(lambda: self._watch(stop))
        return None

    def release(self) -> None:
        """Release the lock; LockLost when the lease ended before this call (the
        lock is then not deleted: it may be someone else's by now)."""
        lease = self._lease
        token = lease.token
        if token is None:
            raise RuntimeError(f"lock {self.name!r} is not held by this object")
        self._stop.set()  # the watcher reports nothing once stopped, even mid-renewal
        expired = lease.expired
        try:
            released = self._clients.release(lease.release_call(token))
        finally:
            lease.end()
        if expired or not released:
            self._report_lost(EXPIRED if expired else GONE_AT_RELEASE)
        error = lease.lost_error
        if error is not None:
            raise error

    def _watch(self, stop: threading.Event) -> None:
        """The renewal thread: every ttl/3 until stopped, or until the lease is lost."""
        lease = self._lease
        reason: str | None = None
        try:
            while reason is None and not stop.wait(lease.next_check()):
                reason = self._renew(stop) if lease.renewable else EXPIRED
        except Exception as exc:  # a bug, not Redis trouble: the lease is in doubt
            log.exception("renewal of lock %r failed", self.name)
            reason = f"renewal failed unexpectedly ({exc!r})"
        if reason is not None and not stop.is_set():
            self._report_lost(reason)

    def _renew(self, stop: threading.Event) -> str | None:
        """Extend the lease; on connection trouble retry until the deadline.

        A hung connection can delay the report by up to the command timeout, but
        never the verdict: `lost` checks the local deadline by itself.
        """
        lease = self._lease
        while lease.deadline - time.monotonic() > 0 and not stop.is_set():
            sent = time.monotonic()
            try:
                renewed = self._clients.renew(lease.renew_call())
            except (RedisError, OSError) as exc:
                log.warning("renewing lock %r failed (%s); retrying", self.name, exc)
                stop.wait(min(RENEW_RETRY, max(0.0, lease.deadline - time.monotonic())))
                continue
            if not renewed:
                return GONE_AT_RENEWAL
            lease.extend(sent)
            return None
        return None if stop.is_set() else EXPIRED

    def _report_lost(self, reason: str) -> None:
        error = self._lease.mark_lost(reason)
        if error is not None:
            log.warning("%s", error)
            self._lease.call_on_lost(error)
            self._clients.count(self._lease.keys, "lost")  # after telling the holder


_WATCHERS = _Watchers()  # renewal threads, shared by every sync lock of the process
