"""The campaign store: one record per campaign (its spec and recorded state), its
runs, enrolled recipients, stop records and step marks, under the campaign's own
hash tag, changed by the compare-and-set scripts cmp_*.lua. Three indexes live in
slots of their own, written after the campaign's keys, outside its scripts: every
campaign by creation time (`{~cmp}`: a missing entry is what a listing tolerates),
the campaigns of each recipient (`{cmpr:<email>}`, one key per recipient: what a
reply without a campaign reads; checked against the campaign's enrolment) and
the suppression list shared by every campaign (`{~cmpsup}`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from chronoq.core import serialization
from chronoq.core.names import validate_campaign_name
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import CampaignKeys, Keyspace
from chronoq.redis.scripts import SCRIPTS

INDEX_BATCH = 500  # recipient index writes per pipelined round trip


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class RunStart:
    """What a run start got: `started` with its run number and workflow id, or
    refused with a reason ('stale', 'live', 'max_runs' or the campaign's state)."""

    started: bool
    run: int
    workflow: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Grant:
    """The campaign half of a step's grant: 'go', 'defer' or 'skip', and why."""

    decision: str
    reason: str = ""


class CampaignStore:
    def __init__(self, redis: AsyncRedis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace

    def _cmp(self, name: str) -> CampaignKeys:
        return self.keys.campaign(validate_campaign_name(name))

    async def create(self, name: str, spec_json: str, *, draft: bool) -> int | None:
        """Store a new campaign. Returns its creation ms, or None when it exists."""
        c = self._cmp(name)
        state = "draft" if draft else "scheduled"
        created = await SCRIPTS.cmp_create(self.redis, [c.record], [name, spec_json, state])
        if not created:
            return None
        await self.redis.zadd(self.keys.campaigns, {name: int(created)})
        return int(created)

    async def record(self, name: str) -> dict[str, str]:
        """The campaign's record fields ({} when there is none)."""
        raw = await self.redis.hgetall(self._cmp(name).record)
        return {_text(k): _text(v) for k, v in raw.items()}

    async def transition(self, name: str, action: str, reason: str = "") -> tuple[str, str] | None:
        """One lifecycle move (cmp_state.lua). Returns (state before, state after),
        or None when there is no campaign."""
        reply = await SCRIPTS.cmp_state(self.redis, [self._cmp(name).record], [action, reason])
        if not reply:
            return None
        return _text(reply[0]), _text(reply[1])

    async def delete(self, name: str) -> None:
        """Forget a campaign entirely (its runs' workflows are kept): its recipients'
        index entries first, then its keys, then its listing."""
        c = self._cmp(name)
        emails = [_text(e) for e in await self.redis.hkeys(c.recipients)]
        await self._index(name, emails, remove=True)
        await self.redis.delete(c.record, c.runs, c.recipients, c.stops, c.marks, c.deferred)
        await self.redis.zrem(self.keys.campaigns, name)

    # -- runs ------------------------------------------------------------------

    async def start_run(self, name: str, *, fence: int, max_runs: int | None) -> RunStart | None:
        c = self._cmp(name)
        reply = await SCRIPTS.cmp_run_start(self.redis, [c.record, c.runs], [fence, max_runs or 0])
        if not reply:
            return None
        if _text(reply[0]) == "started":
            return RunStart(True, int(reply[1]), _text(reply[2]))
        live = _text(reply[2])
        run = int(live) if live else 0
        workflow = f"cmp-{name}-{run}" if run else ""
        return RunStart(False, run, workflow, _text(reply[1]))

    async def end_run(
        self, name: str, run: int, status: str, error: str = "", *, final: bool
    ) -> tuple[bool, str] | None:
        """Record the live run's end once. Returns (recorded now, state after)."""
        c = self._cmp(name)
        reply = await SCRIPTS.cmp_run_end(
            self.redis, [c.record, c.runs], [run, status, error, "1" if final else "0"]
        )
        if not reply:
            return None
        return bool(int(reply[0])), _text(reply[1])

    async def runs(self, name: str) -> list[dict[str, Any]]:
        """Every run's entry, newest first."""
        raw = await self.redis.hgetall(self._cmp(name).runs)
        entries = [serialization.loads(_text(v)) for v in raw.values()]
        return sorted(entries, key=lambda e: -int(e["run"]))

    # -- recipients ----------------------------------------------------------

    async def enroll(
        self, name: str, recipients: list[tuple[str, str]], *, max_recipients: int | None
    ) -> tuple[int, list[str]] | None:
        """Enrol (email, recipient JSON) pairs not enrolled yet, up to the cap.
        Returns (enrolled in all, the emails enrolled now)."""
        c = self._cmp(name)
        args: list[str | int] = [max_recipients or 0]
        for email, body in recipients:
            args += [email, body]
        reply = await SCRIPTS.cmp_enroll(self.redis, [c.record, c.recipients], args)
        if not reply:
            return None
        now = [_text(v) for v in reply[1:]]
        # The recipient index (other slots), after the enrolment: for those enrolled
        # now, and for those found enrolled already (a retry after a crash between
        # the two writes them then; writing again changes nothing).
        fresh = set(now)
        rest = [email for email, _ in recipients if email not in fresh]
        known = await self.enrolled_emails(name, rest) if rest else []
        await self._index(name, now + [e for e, k in zip(rest, known, strict=True) if k])
        return int(reply[0]), now

    async def _index(self, name: str, emails: list[str], *, remove: bool = False) -> None:
        """Add (or remove) `name` in the recipient index of each of `emails`, in
        batches of one pipelined round trip (keys in as many slots as emails)."""
        for start in range(0, len(emails), INDEX_BATCH):
            async with self.redis.pipeline(transaction=False) as pipe:
                for email in emails[start : start + INDEX_BATCH]:
                    key = self.keys.campaign_recipient(email)
                    if remove:
                        pipe.hdel(key, name)
                    else:
                        pipe.hsetnx(key, name, int(time.time() * 1000))
                await pipe.execute()

    async def campaigns_of(self, email: str) -> list[str]:
        """The campaigns whose index says they enrolled `email` (lowercased);
        check each with `enrolled_emails` (an entry may be stale)."""
        found = await self.redis.hkeys(self.keys.campaign_recipient(email))
        return sorted(_text(v) for v in found)

    async def enrolled(self, name: str) -> int:
        return int(await self.redis.hlen(self._cmp(name).recipients))

    async def recipients(self, name: str) -> dict[str, dict[str, Any]]:
        """Every enrolled recipient: email -> recipient as enrolled."""
        raw = await self.redis.hgetall(self._cmp(name).recipients)
        return {_text(k): serialization.loads(_text(v)) for k, v in raw.items()}

    async def enrolled_emails(self, name: str, emails: list[str]) -> list[bool]:
        """Whether each of `emails` is enrolled in the campaign."""
        key = self._cmp(name).recipients
        async with self.redis.pipeline(transaction=False) as pipe:
            for email in emails:
                pipe.hexists(key, email)
            return [bool(v) for v in await pipe.execute()]

    # -- the grant's campaign half ---------------------------------------------

    async def step_begin(
        self, name: str, step: str, email: str, job_id: str, *, stops_on: list[str],
        suppressed: str,
    ) -> Grant | None:  # fmt: skip
        c = self._cmp(name)
        reply = await SCRIPTS.cmp_step_begin(
            self.redis, [c.record, c.stops, c.marks, c.deferred],
            [step, email, job_id, ",".join(stops_on), suppressed],
        )  # fmt: skip
        if not reply:
            return None
        return Grant(_text(reply[0]), _text(reply[1]) if len(reply) > 1 else "")

    async def step_end(self, name: str, step: str, email: str, job_id: str) -> bool:
        c = self._cmp(name)
        return bool(
            await SCRIPTS.cmp_step_end(self.redis, [c.marks, c.deferred], [step, email, job_id])
        )

    async def defer(self, name: str, step: str, email: str, until_ms: int, reason: str) -> None:
        """Record that the step job for `email` deferred at its grant until
        `until_ms` (`reason`: window, a cap, paused): what the campaign view shows
        as the step's next send while the job waits in the queue."""
        body = serialization.dumps({"until": int(until_ms), "reason": reason})
        await self.redis.hset(self._cmp(name).deferred, f"{step}|{email}", body)

    async def deferrals(self, name: str) -> dict[str, dict[str, Any]]:
        """Every recorded deferral: "<step>|<email>" -> {until, reason}."""
        raw = await self.redis.hgetall(self._cmp(name).deferred)
        return {_text(k): serialization.loads(_text(v)) for k, v in raw.items()}

    async def marks(self, name: str) -> dict[str, dict[str, Any]]:
        """Every step mark: "<step>|<email>" -> {job, state, reason, at}."""
        raw = await self.redis.hgetall(self._cmp(name).marks)
        return {_text(k): serialization.loads(_text(v)) for k, v in raw.items()}

    # -- stops and suppression ---------------------------------------------------

    async def record_stop(self, name: str, email: str, reason: str) -> None:
        await self.redis.hset(self._cmp(name).stops, email, reason)

    async def stop_of(self, name: str, email: str) -> str | None:
        value = await self.redis.hget(self._cmp(name).stops, email)
        return None if value is None else _text(value)

    async def suppress(self, email: str, reason: str) -> None:
        await self.redis.hset(self.keys.campaign_suppression, email, reason)

    async def unsuppress(self, email: str) -> bool:
        return bool(await self.redis.hdel(self.keys.campaign_suppression, email))

    async def suppressed(self, email: str) -> str | None:
        value = await self.redis.hget(self.keys.campaign_suppression, email)
        return None if value is None else _text(value)

    # -- the index ---------------------------------------------------------------

    async def names(self, *, limit: int = 50) -> list[str]:
        """The newest campaigns first."""
        found: list[Any] = await self.redis.zrevrange(self.keys.campaigns, 0, limit - 1)
        return [_text(v) for v in found]
