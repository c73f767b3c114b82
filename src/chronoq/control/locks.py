"""Distributed locks for user code, on one Redis (or one Cluster slot per lock).

```
async with app.lock("report:2024-06", ttl=30, timeout=10) as lock:
    await storage.write(rows, fence=lock.fence)   # storage refuses older fences
```

* Acquire is one script: SET the holder key to a random token with a lease (PX)
  if it is free, and INCR the lock's fencing counter in the same step. Release is
  a compare-and-delete, so a holder whose lease ran out can never delete the lock
  someone else took since.
* A waiter does not poll. The acquire script answers "taken" with the holder's
  remaining lease; the waiter blocks on the lock's wake list (BLPOP, on a
  connection kept for blocking reads) for at most that long, and a release pushes
  one token there, so one waiter retries at once.
* While held, a watcher task renews the lease every ttl/3. When the token is gone,
  or no renewal got through before the lease would have run out, the holder is
  told: `lock.lost` turns true, `on_lost` is called, and `release()` (the end of
  the `async with`) raises LockLost. The fencing token (`lock.fence`) is the
  defence when the holder learns too late: it strictly grows with every acquire of
  a name, so the systems the holder writes to can refuse a superseded holder.

No Redlock: one server (or one Cluster slot) decides. With asynchronous
replication a failover can lose the holder key, and two holders can then overlap
for up to one lease; fencing tokens stay safe only if the counter survived too.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from typing import Any, NoReturn

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
from chronoq.redis.cancel import cancel_and_wait
from chronoq.redis.errors import RedisError
from chronoq.redis.keys import LockKeys
from chronoq.redis.locks import LockClients, LoopLockClients


class Lock(LeaseView):
    """An async distributed lock. Make one with `app.lock(name, ...)`; use it as
    `async with app.lock(...) as lock:` or with `acquire()` / `release()`.

    One object holds the lock at most once at a time (not reentrant); after a
    release it can be acquired again. For sync code use `app.sync_lock`.
    """

    def __init__(
        self,
        clients: LoopLockClients,
        keys: LockKeys,
        options: LockOptions,
        on_lost: LostCallback | None = None,
    ) -> None:
        self._clients = clients
        self._lease = Lease(keys, options, on_lost)
        self._watcher: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Lock:
        await self.acquire()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.release()

    def __enter__(self) -> NoReturn:
        raise TypeError(
            f"lock {self.name!r} is async: use `async with app.lock(...)`, or "
            "`with app.sync_lock(...)` in sync code"
        )

    def __exit__(self, *_: object) -> None:  # never reached: __enter__ refuses
        return None

    async def try_acquire(self) -> bool:
        """Take the lock if it is free, without waiting. True when taken."""
        self._lease.check_idle()
        clients = await self._clients.get()
        if await self._attempt(clients, self._lease.new_token()) is None:
            return True
        await clients.count(self._lease.keys, "contended")
        return False

    async def acquire(self) -> None:
        """Take the lock, waiting up to the timeout (forever when None).

        LockTimeout when the wait ran out, or at once with blocking=False.
        """
        lease = self._lease
        lease.check_idle()
        clients = await self._clients.get()
        token = lease.new_token()  # one token for every try: a resend is recognised
        started = time.monotonic()
        contended = False
        while (holder_ms := await self._attempt(clients, token)) is not None:
            if not contended:  # counted once per acquire that found the lock taken
                contended = True
                await clients.count(lease.keys, "contended")
            if not lease.options.blocking:
                raise lease.busy()
            waited = time.monotonic() - started
            block = lease.block_for(holder_ms, waited)
            if block is None:
                await clients.count(lease.keys, "timeout")
                raise lease.timed_out(waited)
            await clients.wait(lease.keys.wake, block)

    async def _attempt(self, clients: LockClients, token: str) -> int | None:
        """One acquire script. None when taken, else the holder's remaining ms."""
        lease = self._lease
        keys, args = lease.acquire_call(token)
        sent = time.monotonic()
        undo = lease.release_call(token)
        call = asyncio.ensure_future(clients.acquire((keys, args), undo, lease.registration))
        try:
            taken, value = await asyncio.shield(call)
        except asyncio.CancelledError:
            await self._undo(call, clients, token)
            raise
        if not taken:
            return int(value)
        lease.begin(token, int(value), sent)
        self._watcher = asyncio.create_task(self._watch(clients), name=f"lock:{self.name}")
        return None

    async def _undo(self, call: asyncio.Future[Any], clients: LockClients, token: str) -> None:
        """A cancelled acquire (e.g. under asyncio.timeout) must not leave the lock
        taken for a whole ttl: let the script's reply arrive, release if it won."""
        with contextlib.suppress(Exception):
            taken, _ = await call
            if taken:
                await clients.release(self._lease.release_call(token))

    async def release(self) -> None:
        """Release the lock. LockLost when the lease ended before this call (the
        lock is then not deleted: it may be someone else's by now)."""
        lease = self._lease
        token = lease.token
        if token is None:
            raise RuntimeError(f"lock {self.name!r} is not held by this object")
        await self._stop_watcher()
        expired = lease.expired
        try:
            clients = await self._clients.get()
            released = await clients.release(lease.release_call(token))
        finally:
            lease.end()
        if expired or not released:
            await self._report_lost(EXPIRED if expired else GONE_AT_RELEASE)
        error = lease.lost_error
        if error is not None:
            raise error

    async def _stop_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is asyncio.current_task():  # release() called from on_lost
            return
        if watcher is not None and not watcher.done():
            # redis-py can swallow a cancel that lands mid-command: cancel until it ends.
            await cancel_and_wait(watcher)

    async def _watch(self, clients: LockClients) -> None:
        """Renew every ttl/3 until released; report the loss when renewal finds the
        token gone or cannot get through before the local deadline."""
        lease = self._lease
        reason: str | None = None
        try:
            while reason is None:
                await asyncio.sleep(lease.next_check())
                reason = await self._renew(clients) if lease.renewable else EXPIRED
        except Exception as exc:  # a bug, not Redis trouble: the lease is in doubt
            log.exception("renewal of lock %r failed", self.name)
            reason = f"renewal failed unexpectedly ({exc!r})"
        await self._report_lost(reason)

    async def _renew(self, clients: LockClients) -> str | None:
        """Extend the lease; on connection trouble retry until the deadline.
        None when renewed, else why the lease is lost."""
        lease = self._lease
        while (left := lease.deadline - time.monotonic()) > 0:
            sent = time.monotonic()
            try:
                async with asyncio.timeout(left):
                    renewed = await clients.renew(lease.renew_call())
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("renewing lock %r failed (%s); retrying", self.name, exc)
                await asyncio.sleep(min(RENEW_RETRY, max(0.0, lease.deadline - time.monotonic())))
                continue
            if not renewed:
                return GONE_AT_RENEWAL
            lease.extend(sent)
            return None
        return EXPIRED

    async def _report_lost(self, reason: str) -> None:
        """Tell the holder first (on_lost), then count the loss (best effort)."""
        error = self._lease.mark_lost(reason)
        if error is None:
            return
        log.warning("%s", error)
        result = self._lease.call_on_lost(error)
        if inspect.isawaitable(result):
            try:
                await result
            except Exception:
                log.exception("on_lost callback of lock %r failed", self.name)
        clients = await self._clients.get()
        await clients.count(self._lease.keys, "lost")
