"""Live updates: server-sent events fed by one poller per process.

However many tabs are open, the process reads Redis once a second (the queues'
counts and the new entries of each queue's event stream) while at least one tab
listens, renders each watched view's fragments once, and sends the fragments that
changed to every tab watching that view: at most one delta per second per view, and
50 open tabs cost Redis what one costs. No tab listening: no reads at all.

A view is a renderer registered by its route module: `overview`, `jobs`,
`workers`, `job:<id>`. Its fragments are {element id: HTML}; chronoq.js puts each
into the element of that id (and pauses the stream while the tab is hidden).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from chronoq.observe.metrics import MetricsSnapshot, read_metrics
from chronoq.web.auth import Reader, state_of

if TYPE_CHECKING:
    from chronoq.web.state import DashboardState

log = logging.getLogger("chronoq.web")
INTERVAL = 1.0  # seconds between reads: at most one delta per second per view
HEARTBEAT = 15.0  # an SSE comment this often keeps proxies from closing the stream
RECENT = 50  # events kept for the jobs view's live feed


@dataclass(frozen=True, slots=True)
class Event:
    queue: str
    entry_id: str
    job: str
    status: str

    @property
    def at_ms(self) -> int:
        return int(self.entry_id.split("-", 1)[0])


@dataclass(slots=True)
class Tick:
    """What one read saw: every queue's counts now, and the events since the last."""

    metrics: MetricsSnapshot
    events: list[Event]
    recent: deque[Event]
    at: float = field(default_factory=time.time)
    seen: bool = False  # the view being rendered was sent before (its tabs have it)


Fragments = dict[str, str]
Renderer = Callable[["DashboardState", Tick, str], Awaitable[Fragments | None]]
RENDERERS: dict[str, Renderer] = {}


def live_view(name: str) -> Callable[[Renderer], Renderer]:
    """Register the renderer of view `name` (`job` serves `job:<id>`)."""

    def register(render: Renderer) -> Renderer:
        RENDERERS[name] = render
        return render

    return register


class LiveHub:
    def __init__(self, state: DashboardState, interval: float = INTERVAL) -> None:
        self.state = state
        self.interval = interval
        self.listeners: dict[str, set[asyncio.Queue[Fragments]]] = {}
        self.sent: dict[str, Fragments] = {}
        self.recent: deque[Event] = deque(maxlen=RECENT)
        self.after: dict[str, str] = {}  # per queue: the last event entry id read
        self.reads = 0  # ticks that read Redis (the bench and tests count them)
        self._task: asyncio.Task[None] | None = None
        self._last: Tick | None = None

    def subscribe(self, view: str) -> asyncio.Queue[Fragments]:
        queue: asyncio.Queue[Fragments] = asyncio.Queue(maxsize=4)
        self.listeners.setdefault(view, set()).add(queue)
        if view in self.sent:
            queue.put_nowait(self.sent[view])  # a tab that comes back catches up
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return queue

    def unsubscribe(self, view: str, queue: asyncio.Queue[Fragments]) -> None:
        listeners = self.listeners.get(view)
        if listeners is not None:
            listeners.discard(queue)
            if not listeners:
                del self.listeners[view]
                self.sent.pop(view, None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while self.listeners:
            started = time.monotonic()
            try:
                tick = await self._read()
                for view in list(self.listeners):
                    await self._publish(view, tick)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away, a renderer's bug: keep serving, say why
                log.exception("live updates: a read or render failed; retrying")
            await asyncio.sleep(max(0.05, self.interval - (time.monotonic() - started)))

    async def _read(self) -> Tick:
        backend = await self.state.backend()
        metrics = await read_metrics(backend.snapshots)
        names = [q.queue for q in metrics.queues]
        start = f"{int(time.time() * 1000) - 1000}-0"
        replies = await asyncio.gather(
            *(backend.inspector.events(n, after=self.after.get(n, start)) for n in names)
        )
        events: list[Event] = []
        for name, entries in zip(names, replies, strict=True):
            for entry_id, fields in entries:
                events.append(
                    Event(name, entry_id, fields.get("job", ""), fields.get("status", ""))
                )
            if entries:
                self.after[name] = entries[-1][0]
            else:
                self.after.setdefault(name, start)
        events.sort(key=lambda e: e.entry_id)
        self.recent.extend(events)
        self.reads += 1
        tick = Tick(metrics, events, self.recent)
        self._last = tick
        return tick

    async def _publish(self, view: str, tick: Tick) -> None:
        name, _, arg = view.partition(":")
        render = RENDERERS.get(name)
        if render is None:
            return
        tick.seen = view in self.sent
        fragments = await render(self.state, tick, arg)
        if fragments is None:
            return
        previous = self.sent.get(view, {})
        changed = {k: v for k, v in fragments.items() if previous.get(k) != v}
        self.sent[view] = {**previous, **fragments}
        if not changed:
            return
        for queue in list(self.listeners.get(view, ())):
            if queue.full():  # a slow tab: it gets the newest state, not a backlog
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(changed)


def hub_of(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.live
    return hub


router = APIRouter()


@router.get("/events")
async def events(request: Request, view: str, who: Reader) -> Response:
    """The live updates of one view, as server-sent events."""
    del who
    name = view.partition(":")[0]
    if name not in RENDERERS:
        return Response(f"no live view {view!r}", status_code=404, media_type="text/plain")
    hub = hub_of(request)
    state_of(request)  # the dashboard's own state, not another app's
    return StreamingResponse(
        _stream(hub, view),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _stream(hub: LiveHub, view: str) -> AsyncIterator[str]:
    queue = hub.subscribe(view)
    try:
        yield "retry: 3000\n\n"
        while True:
            try:
                fragments = await asyncio.wait_for(queue.get(), HEARTBEAT)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield f"event: update\ndata: {json.dumps(fragments)}\n\n"
    finally:
        hub.unsubscribe(view, queue)
