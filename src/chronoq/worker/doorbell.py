"""Waking idle workers: one blocking read on the worker's inboxes and the queues'
doorbells, plus a local timer.

The blocking read (BLPOP) runs in its own task on its own connection. An inbox
entry is a job enqueue handed straight to this worker (already leased to it): it
starts at once, one network hop after the enqueue. A doorbell ring means jobs
wait in a ready queue: the fetch loop claims them.

The read is made only while it has a use: the fetch loop waits, or the last claim
left an idle registration (hand-offs may come). A worker draining a queue claims
again whenever a slot frees, so it leaves the rings of its own claims (a claim
that leaves jobs ready rings the doorbell for other workers) to idle workers
instead of popping them, a blocking round trip per claim.

Waits with a deadline use a local timer instead of BLPOP's timeout, because Redis
checks blocking timeouts only every 1/hz second (100 ms by default): a delayed job
would start up to 100 ms late.

On a Redis Cluster each queue's keys live on the queue's own slot, and one BLPOP
may not span slots: there the listener blocks on each queue separately, one read
per queue at once, so no queue waits behind another. Each read has a client of
its own: a Cluster client that fails to reach a node closes every connection it
holds, and a read sharing it would die in mid-connect (redis-py then raises
AttributeError, not a Redis error), leaving its queue's hand-offs unread.

A failing listener is fatal to the worker (see `chronoq.worker.runner`): Redis
faults are waited out inside `persist`; anything else is a bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from chronoq.core.claims import ClaimedJob
from chronoq.redis.broker import SENTINEL, Broker
from chronoq.redis.cancel import cancel_and_wait
from chronoq.redis.connector import AsyncRedis
from chronoq.worker.resilience import Outages

log = logging.getLogger("chronoq.worker")

SENTINEL_TIMEOUT = 2.0  # pushing the sentinel that ends our own blocking read


class Doorbell:
    def __init__(
        self,
        broker: Broker,
        blocking: Sequence[AsyncRedis],
        *,
        queues: Sequence[str],
        worker_id: str,
        block: float,
        capacity: asyncio.Event,
        on_handoff: Callable[[ClaimedJob], bool],
        outages: Outages,
    ) -> None:
        """`blocking`: one client for a read on every queue at once, or one client
        per queue (a Cluster), each blocking on its queue alone."""
        if len(blocking) not in (1, len(queues)):
            raise ValueError(f"{len(blocking)} blocking clients for {len(queues)} queues")
        self._broker = broker
        self._blocking = [broker.blocking_lane(client) for client in blocking]
        self._queues = list(queues)
        self._worker_id = worker_id
        self._block = block
        self._capacity = capacity  # set while the worker has a free slot
        self._on_handoff = on_handoff
        self._inboxes = {broker.keys.queue(q).inbox(worker_id): q for q in queues}
        self._outages = outages
        # One blocking read per group of queues: all at once, or one per queue (Cluster).
        per_queue = len(self._blocking) > 1
        self._groups = [[q] for q in self._queues] if per_queue else [self._queues]
        self._rang = asyncio.Event()
        # Set while the blocking read has a use: the fetch loop waits, or an idle
        # registration may bring hand-offs. A worker busy claiming needs no wake-up
        # (it claims again as soon as a slot frees): its read would only pop the rings
        # of its own claims, a round trip per claim.
        self._wanted = asyncio.Event()
        self._wanted.set()
        self._stopping = asyncio.Event()
        self._blocked = 0  # reads pending

    async def stop(self, listener: asyncio.Task[None]) -> None:
        """End `listen` without losing a job its blocking read may have just popped.

        Call after the worker retired from its queues (no more hand-offs): a sentinel
        in our own inbox ends the blocking read at once; cancelling is safe only
        while no read is pending. A listener waiting to retry through an outage
        sees `_stopping` and ends at once.
        """
        self._stopping.set()
        if self._blocked and self._inboxes:
            for group in self._groups:  # each pending read ends on its group's sentinel
                inbox = self._broker.keys.queue(group[0]).inbox(self._worker_id)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._broker.push_sentinel(inbox), SENTINEL_TIMEOUT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(listener), self._block + 1)
        await cancel_and_wait(listener)

    def registered(self, places: bool) -> None:
        """After a claim: whether this worker holds idle registrations (hand-offs may
        come). Without any, the read waits until the fetch loop does; one pending
        read is never cut short (it could drop a job it just popped)."""
        if places:
            self._wanted.set()
        else:
            self._wanted.clear()

    def nudge(self) -> None:
        """Wake whoever waits in `wait` (the fetch loop, at shutdown)."""
        self._rang.set()

    async def listen(self) -> None:
        """Block on inboxes and doorbells and act on each, until `stop`."""
        try:
            if len(self._groups) == 1:
                await self._listen(self._groups[0], self._blocking[0])
            else:
                reads = zip(self._groups, self._blocking, strict=True)
                await asyncio.gather(*(self._listen(group, lane) for group, lane in reads))
        finally:
            for lane in self._blocking:  # its kept connection back to the client's pool
                await lane.aclose()

    async def _listen(self, queues: list[str], client: Any) -> None:
        while not self._stopping.is_set():
            await self._capacity.wait()  # a full worker must not take others' wake-ups
            await self._wanted.wait()
            self._blocked += 1
            try:
                got = await self._outages.persist(
                    lambda: self._broker.wait_for_work(
                        client, queues, self._worker_id, self._block
                    ),
                    "waiting for jobs",
                    stop=self._stopping,
                )
            finally:
                self._blocked -= 1
            if got is not None and got[1] != SENTINEL:
                await self._dispatch(*got)

    async def _dispatch(self, key: str, value: str) -> None:
        queue = self._inboxes.get(key)
        if queue is not None:
            try:
                job = self._broker.handed_off(queue, value)
            except ValueError as exc:  # a tampered inbox: drop the entry, keep serving
                log.error("chronoq: dropped a hand-off on %s: %s", key, exc)
            else:
                if self._on_handoff(job):  # its registration is used up: claim again
                    self._rang.set()
                # Yield once: the job's task (created just now) starts before the next
                # blocking read is packed and sent, not after (idle start latency).
                await asyncio.sleep(0)
                return
            self._rang.set()  # re-claim: registers the worker as idle again
        elif self._capacity.is_set():
            self._rang.set()
        else:
            await self._outages.persist(lambda: self._broker.ring(key), "passing a wake-up on")

    async def wait(self, timeout: float) -> None:
        """Return when something arrived (now or since the last wait) or after `timeout`.

        A plain timer on the event (rather than asyncio.wait_for, which spawns a task
        per call) keeps the idle-to-start path short.
        """
        self._wanted.set()
        if not self._rang.is_set():
            timer = asyncio.get_running_loop().call_later(timeout, self._rang.set)
            try:
                await self._rang.wait()
            finally:
                timer.cancel()
        self._rang.clear()
