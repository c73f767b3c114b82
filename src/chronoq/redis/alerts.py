"""The alert engine's Redis state: runtime rules, channels, silences, per-(rule,
subject) states, counter samples and the delivery log (keys.py `AlertKeys`).

A state changes only through `alert_transition.lua` (compare-and-set against the
stored state, silences read in the same step), which tells its one caller to
notify: evaluators never coordinate otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chronoq.core.alerts import (
    AlertRule,
    Channel,
    Silence,
    channel_from_json,
    channel_to_json,
    silence_field,
)
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import SCRIPTS, ScriptCall, pipelined

DELIVERIES_CAP = 1000  # delivery attempts kept (the newest)


@dataclass(frozen=True, slots=True)
class Observation:
    """One evaluator's reading of one rule for one subject."""

    rule: str
    subject: str
    breached: bool
    value: float | None
    message: str
    level: str


@dataclass(frozen=True, slots=True)
class Transition:
    """What the script decided: `action` fire/resolve (this caller notifies) or ''."""

    observation: Observation
    action: str
    state: str
    note: str


@dataclass(frozen=True, slots=True)
class AlertState:
    rule: str
    subject: str
    state: str  # pending, firing, resolved
    since: float  # epoch seconds (server clock) of entering the state
    notified: bool  # this firing was notified
    last_notified: float | None
    value: str
    message: str
    level: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "state": self.state,
            "since": self.since,
            "notified": self.notified,
            "last_notified": self.last_notified,
            "value": self.value,
            "message": self.message,
            "level": self.level,
        }


class AlertStore:
    def __init__(self, redis: AsyncRedis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace.alerts

    # -- rules, channels, silences ---------------------------------------------

    async def put_rule(self, rule: AlertRule) -> None:
        await self.redis.hset(self.keys.rules, rule.name, rule.to_json())

    async def remove_rule(self, name: str) -> bool:
        return bool(await self.redis.hdel(self.keys.rules, name))

    async def rules(self) -> dict[str, AlertRule]:
        raw = await self.redis.hgetall(self.keys.rules)
        return {str(k): AlertRule.from_json(str(v)) for k, v in raw.items()}

    async def put_channel(self, channel: Channel) -> None:
        await self.redis.hset(self.keys.channels, channel.name, channel_to_json(channel))

    async def remove_channel(self, name: str) -> bool:
        return bool(await self.redis.hdel(self.keys.channels, name))

    async def channels(self) -> dict[str, Channel]:
        raw = await self.redis.hgetall(self.keys.channels)
        return {str(k): channel_from_json(str(v)) for k, v in raw.items()}

    async def silence(self, silence: Silence) -> None:
        await self.redis.hset(self.keys.silences, silence.field, silence.to_json())

    async def unsilence(self, rule: str, subject: str = "") -> bool:
        return bool(await self.redis.hdel(self.keys.silences, silence_field(rule, subject)))

    async def silences(self) -> list[Silence]:
        """The silences in force; expired ones are dropped as they are seen."""
        raw = await self.redis.hgetall(self.keys.silences)
        now, kept, expired = time.time(), [], []
        for key, text in raw.items():
            rule, _, subject = str(key).partition("\t")
            data = json.loads(text)
            until = int(data.get("until_ms", 0)) / 1000
            if until <= now:
                expired.append(key)
            else:
                kept.append(Silence(rule, until, str(data.get("reason", "")), subject))
        if expired:
            await self.redis.hdel(self.keys.silences, *expired)
        return sorted(kept, key=lambda s: (s.rule, s.subject))

    # -- states -----------------------------------------------------------------

    async def transition(self, observations: Sequence[Observation], *, observed_ms: int,
                         rules: Mapping[str, AlertRule]) -> list[Transition]:  # fmt: skip
        """Apply one evaluation round's observations, one script call each, in one
        round trip."""
        keys = [self.keys.state, self.keys.silences]
        calls: list[ScriptCall] = []
        for o in observations:
            rule = rules[o.rule]
            value = "" if o.value is None else f"{o.value:g}"
            args = [o.rule, o.subject, "1" if o.breached else "0", observed_ms,
                    int(rule.pending * 1000), int(rule.cooldown * 1000), value, o.message,
                    o.level]  # fmt: skip
            calls.append((SCRIPTS.alert_transition, keys, args))
        if not calls:
            return []
        replies = await pipelined(self.redis, calls)
        return [
            Transition(o, str(r[0]), str(r[1]), str(r[2]))
            for o, r in zip(observations, replies, strict=True)
        ]

    async def states(self) -> list[AlertState]:
        raw = await self.redis.hgetall(self.keys.state)
        states = []
        for key, text in raw.items():
            rule, _, subject = str(key).partition("\t")
            try:
                s = json.loads(text)
            except ValueError:
                continue
            last = float(s.get("last_notified") or 0) / 1000
            states.append(
                AlertState(rule, subject, str(s.get("state")), float(s.get("since", 0)) / 1000,
                           s.get("notified") == 1, last or None, str(s.get("value", "")),
                           str(s.get("message", "")), str(s.get("level", "warning")))
            )  # fmt: skip
        return sorted(states, key=lambda s: (s.rule, s.subject))

    # -- counter samples (windowed rules) -------------------------------------------

    async def sample(
        self, counters: Mapping[str, Mapping[str, int]], now_ms: int, windows: Sequence[float]
    ) -> dict[tuple[str, float], dict[str, int]]:
        """Record each queue's counters as seen now, keep the longest window's, and
        return per (queue, window) the oldest sample within that window: the
        baseline the growth over the window is measured from (the sample just
        written, when none is older)."""
        keep_ms = int(max(windows, default=0) * 1000)
        if not counters or not windows:
            return {}
        order: list[tuple[str, float]] = []
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue, values in counters.items():
                key = self.keys.samples(queue)
                member = json.dumps({"t": now_ms, "c": dict(values)}, sort_keys=True)
                pipe.zadd(key, {member: now_ms})
                pipe.zremrangebyscore(key, "-inf", f"({now_ms - keep_ms}")
                pipe.pexpire(key, keep_ms * 2)
                for window in windows:
                    start = now_ms - int(window * 1000)
                    pipe.zrangebyscore(key, start, "+inf", start=0, num=1)
                    order.append((queue, window))
            replies = await pipe.execute()
        found = [r for i, r in enumerate(replies) if i % (3 + len(windows)) >= 3]
        baselines = {}
        for where, reply in zip(order, found, strict=True):
            if reply:
                baselines[where] = {str(k): int(v) for k, v in json.loads(reply[0])["c"].items()}
        return baselines

    # -- deliveries ---------------------------------------------------------------

    async def log_delivery(self, entry: Mapping[str, Any]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(self.keys.deliveries, json.dumps(dict(entry), sort_keys=True))
            pipe.ltrim(self.keys.deliveries, 0, DELIVERIES_CAP - 1)
            await pipe.execute()

    async def deliveries(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest delivery attempts first."""
        raw = await self.redis.lrange(self.keys.deliveries, 0, max(0, limit - 1))
        return [json.loads(r) for r in raw]
