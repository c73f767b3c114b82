"""Schedules in Redis: add, change, pause, resume, remove; read what is due; advance.

Every change is one script that also bumps a version counter and publishes the
schedule's name, so running scheduler loops re-read at once. Next due times are
computed here, from the server's clock, so every scheduler agrees on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from redis.asyncio import Redis

from chronoq.core import serialization
from chronoq.core.errors import ScheduleExists, ScheduleNotFound
from chronoq.core.job import from_millis, to_millis
from chronoq.redis.keys import Keyspace, ScheduleKeys
from chronoq.redis.scripts import SCRIPTS, ScriptCall, pipelined
from chronoq.schedule.model import ScheduleDef
from chronoq.schedule.runs import HISTORY_CAP, RunKind, RunRecord
from chronoq.schedule.spec import Every

Origin = Literal["code", "runtime"]


@dataclass(frozen=True, slots=True)
class LastRun:
    due: datetime
    job_id: str | None
    queue: str | None
    skipped: bool = False

    def to_json(self) -> str:
        return serialization.dumps(
            {"due": to_millis(self.due), "job": self.job_id, "queue": self.queue,
             "skipped": self.skipped}
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str | None) -> LastRun | None:
        if not text:
            return None
        raw = serialization.loads(text)
        return cls(from_millis(raw["due"]) or datetime.now(UTC), raw.get("job"), raw.get("queue"),
                   bool(raw.get("skipped")))  # fmt: skip


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """A stored schedule with its state."""

    definition: ScheduleDef
    next_due: datetime | None
    runs: int
    last: LastRun | None
    origin: Origin

    def to_dict(self) -> dict[str, Any]:
        d = self.definition
        local = self.next_due.astimezone(d.zone) if self.next_due else None
        return {
            **serialization.loads(d.to_json()),
            "next_due": self.next_due.isoformat() if self.next_due else None,
            "next_due_local": local.isoformat() if local else None,
            "runs": self.runs,
            "last_due": self.last.due.isoformat() if self.last else None,
            "last_job": self.last.job_id if self.last else None,
            "last_skipped": self.last.skipped if self.last else None,
            "pause_reason": d.pause_reason,
            "paused_at": d.paused_at.isoformat() if d.paused_at else None,
            "origin": self.origin,
        }


@dataclass(frozen=True, slots=True)
class DueSchedule:
    definition: ScheduleDef
    due_ms: int
    runs: int
    last: LastRun | None


@dataclass(frozen=True, slots=True)
class DueBatch:
    now_ms: int  # the server's clock when it was read
    next_due_ms: int | None  # earliest due time not in this batch
    version: int
    items: list[DueSchedule]
    broken: list[tuple[str, str]]  # (name, reason): definitions that no longer parse
    upcoming: list[DueSchedule]  # the schedules due at next_due_ms
    now: float  # the server's clock in seconds, to the microsecond


@dataclass(frozen=True, slots=True)
class Advance:
    name: str
    due_ms: int
    next_due: datetime | None
    fired: int
    last: LastRun | None
    records: tuple[RunRecord, ...] = ()  # history written with the advance (oldest first)


class ScheduleStore:
    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys: ScheduleKeys = keyspace.schedules

    async def server_now(self) -> datetime:
        """The server's clock, to the millisecond (the precision of due times)."""
        seconds, micros, _ = await SCRIPTS.clock(self.redis, [self.keys.defs], [""])
        return _to_datetime(seconds, micros)

    # -- changes -----------------------------------------------------------

    async def add(
        self,
        definition: ScheduleDef,
        *,
        replace: bool = False,
        origin: Origin = "runtime",
        app: str | None = None,
    ) -> ScheduleInfo:
        """Store a new schedule (or replace one, when `replace`)."""
        reply = await SCRIPTS.clock(self.redis, [self.keys.defs], [definition.name])
        seconds, micros, existing = reply
        if existing and not replace:
            raise ScheduleExists(
                f"schedule {definition.name!r} exists; update it, or add it with replace"
            )
        now = _to_datetime(seconds, micros)
        if definition.anchor is None and isinstance(definition.parsed, Every):
            definition = definition.with_changes(anchor=definition.start or now)
        return await self._put(definition, origin, now, runs=0, last=None, reset=True, app=app)

    async def update(self, name: str, **changes: Any) -> ScheduleInfo:
        """Change fields of a stored schedule; its next run is recomputed from now."""
        info = await self.get(name)
        definition = info.definition.with_changes(**changes)
        now = await self.server_now()
        return await self._put(definition, "runtime", now, runs=info.runs, last=info.last)

    async def pause(
        self, name: str, reason: str | None = None, *, by: str | None = None
    ) -> ScheduleInfo:
        """Stop firing `name` until resumed; `reason` is stored with it and shown."""
        now = await self.server_now()
        reason = (reason or "").strip() or None
        info = await self.update(name, paused=True, pause_reason=reason, paused_at=now)
        await self.record(name, [RunRecord(RunKind.PAUSED, now, reason=reason, by=by)])
        return info

    async def resume(
        self, name: str, reason: str | None = None, *, by: str | None = None
    ) -> ScheduleInfo:
        """Fire again from the next run after now (missed runs are not caught up)."""
        info = await self.update(name, paused=False, pause_reason=None, paused_at=None)
        now = await self.server_now()
        reason = (reason or "").strip() or None
        await self.record(name, [RunRecord(RunKind.RESUMED, now, reason=reason, by=by)])
        return info

    async def remove(self, name: str) -> bool:
        k = self.keys
        keys = [k.defs, k.due, k.meta, k.version, k.runs, k.last]
        removed = bool(await SCRIPTS.schedule_remove(self.redis, keys, [name, k.channel]))
        if removed:
            await self.redis.delete(k.history(name))
        return removed

    # -- history -------------------------------------------------------------

    async def record(self, name: str, records: Sequence[RunRecord]) -> None:
        """Add operators' records (newest last) to a schedule's history."""
        if not records:
            return
        key = self.keys.history(name)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(key, *(r.to_json() for r in records))
            pipe.ltrim(key, 0, HISTORY_CAP - 1)
            await pipe.execute()

    async def history(self, name: str, limit: int = 50) -> list[RunRecord]:
        """The newest `limit` records of a schedule's runs, newest first."""
        raws = await self.redis.lrange(self.keys.history(name), 0, max(1, limit) - 1)
        return [r for r in (RunRecord.from_json(str(raw)) for raw in raws) if r is not None]

    async def sync_declared(
        self,
        definitions: Iterable[ScheduleDef],
        *,
        overwrite: bool = False,
        app: str | None = None,
    ) -> dict[str, str]:
        """Store schedules declared in code (by `app`, recorded so that a schedule the
        app stops declaring can be retired). A schedule an operator changed at runtime
        is kept as it is unless `overwrite`; one whose code changed is updated."""
        actions: dict[str, str] = {}
        for definition in definitions:
            actions[definition.name] = await self._sync_one(definition, overwrite, app)
        return actions

    async def _sync_one(self, definition: ScheduleDef, overwrite: bool, app: str | None) -> str:
        raw_meta = await self.redis.hget(self.keys.meta, definition.name)
        if raw_meta is None:
            await self.add(definition, origin="code", replace=True, app=app)
            return "added"
        meta = serialization.loads(raw_meta)
        same = meta.get("fingerprint") == definition.fingerprint() and meta.get("app") == app
        if same and meta.get("origin") == "code":
            return "unchanged"
        if meta.get("origin") == "runtime" and not overwrite:
            return "kept runtime changes"
        info = await self.get(definition.name)
        current = info.definition
        keep = {"paused": current.paused, "anchor": current.anchor,
                "pause_reason": current.pause_reason, "paused_at": current.paused_at}  # fmt: skip
        merged = definition.with_changes(**keep)
        now = await self.server_now()
        await self._put(merged, "code", now, runs=info.runs, last=info.last, app=app)
        return "updated"

    async def declared_by(self, app: str) -> dict[str, str]:
        """Schedules stored from `app`'s code (not changed at runtime since): name ->
        the meta JSON as stored, for `retire`."""
        out: dict[str, str] = {}
        for name, raw in (await self.redis.hgetall(self.keys.meta)).items():
            meta = serialization.loads(raw)
            if meta.get("origin") == "code" and meta.get("app") == app:
                out[str(name)] = str(raw)
        return out

    async def retire(self, name: str, meta: str) -> bool:
        """Remove a declared schedule no running app declares any more, if it is still
        stored as `meta` says (a runtime change since keeps it)."""
        k = self.keys
        keys = [k.defs, k.due, k.meta, k.version, k.runs, k.last]
        retired = bool(await SCRIPTS.schedule_retire(self.redis, keys, [name, meta, k.channel]))
        if retired:
            await self.redis.delete(k.history(name))
        return retired

    async def _put(
        self,
        definition: ScheduleDef,
        origin: Origin,
        now: datetime,
        *,
        runs: int,
        last: LastRun | None,
        reset: bool = False,
        app: str | None = None,
    ) -> ScheduleInfo:
        """Write the definition and its next due time; return the stored state
        (built here: reading it back would cost a round trip)."""
        next_due = None if definition.paused else definition.next_run_after(now, runs)
        fields = {
            "origin": origin,
            "fingerprint": definition.fingerprint(),
            "updated": to_millis(now),
        }
        if origin == "code" and app is not None:
            fields["app"] = app  # the app declaring it: retired when no running one does
        meta = serialization.dumps(fields)
        k = self.keys
        keys = [k.defs, k.due, k.meta, k.version, k.runs, k.last]
        args = [
            definition.name,
            definition.to_json(),
            str(to_millis(next_due)) if next_due else "",
            meta,
            k.channel,
            "1" if reset else "0",
        ]
        await SCRIPTS.schedule_put(self.redis, keys, args)
        stored_due = from_millis(to_millis(next_due)) if next_due else None
        return ScheduleInfo(definition, stored_due, runs, last, origin)

    # -- reading -----------------------------------------------------------

    async def get(self, name: str) -> ScheduleInfo:
        infos = await self._load([name])
        if not infos:
            raise ScheduleNotFound(f"no schedule named {name!r}")
        return infos[0]

    async def all(self) -> list[ScheduleInfo]:
        names = sorted(str(n) for n in await self.redis.hkeys(self.keys.defs))
        return await self._load(names)

    async def _load(self, names: Sequence[str]) -> list[ScheduleInfo]:
        if not names:
            return []
        k = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(k.defs, names)
            pipe.hmget(k.meta, names)
            pipe.hmget(k.runs, names)
            pipe.hmget(k.last, names)
            pipe.zmscore(k.due, list(names))
            defs, metas, runs, lasts, dues = await pipe.execute()
        out = []
        for i, raw in enumerate(defs):
            if raw is None:
                continue
            meta = serialization.loads(metas[i]) if metas[i] else {}
            out.append(
                ScheduleInfo(
                    definition=ScheduleDef.from_json(raw),
                    next_due=from_millis(int(dues[i])) if dues[i] is not None else None,
                    runs=int(runs[i] or 0),
                    last=LastRun.from_json(lasts[i]),
                    origin=meta.get("origin", "runtime"),
                )
            )
        return out

    # -- the scheduler loop's side ------------------------------------------

    async def due(self, limit: int) -> DueBatch:
        k = self.keys
        reply = await SCRIPTS.schedule_due(
            self.redis, [k.due, k.defs, k.runs, k.last, k.version], [limit]
        )
        now = float(reply[0])
        now_ms, next_due, version, count = int(now * 1000), reply[1], int(reply[2] or 0), reply[3]
        items: list[DueSchedule] = []
        broken: list[tuple[str, str]] = []
        upcoming: list[DueSchedule] = []
        for n, i in enumerate(range(4, len(reply), 5)):
            name, due_ms, raw, runs, last = reply[i : i + 5]
            try:
                definition = ScheduleDef.from_json(raw)
            except (ValueError, TypeError, KeyError) as exc:
                if n < int(count):
                    broken.append((name, f"{type(exc).__name__}: {exc}"))
                continue
            item = DueSchedule(definition, int(float(due_ms)), int(runs), LastRun.from_json(last))
            (items if n < int(count) else upcoming).append(item)
        next_ms = int(float(next_due)) if next_due else None
        return DueBatch(now_ms, next_ms, version, items, broken, upcoming, now)

    async def advance(self, moves: Sequence[Advance]) -> list[bool]:
        """Compare-and-set each schedule's due time; True where this call moved it."""
        if not moves:
            return []
        k = self.keys
        calls: list[ScriptCall] = []
        for move in moves:
            args: list[str | int] = [
                move.name,
                move.due_ms,
                str(to_millis(move.next_due)) if move.next_due else "",
                move.fired,
                move.last.to_json() if move.last else "",
                HISTORY_CAP,
                *(r.to_json() for r in move.records[-HISTORY_CAP:]),
            ]
            keys = [k.due, k.runs, k.last, k.history(move.name)]
            calls.append((SCRIPTS.schedule_advance, keys, args))
        return [bool(r) for r in await pipelined(self.redis, calls)]

    async def disable_broken(self, name: str) -> None:
        """A stored definition that no longer parses leaves the due set (kept for repair)."""
        await self.redis.zrem(self.keys.due, name)


def _to_datetime(seconds: int, micros: int) -> datetime:
    """A TIME reply as an aware datetime, to the millisecond (the precision of due times)."""
    return datetime.fromtimestamp(seconds + (micros // 1000) / 1000, UTC)
