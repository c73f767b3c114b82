"""Loads the Lua scripts in scripts/*.lua and runs them by SHA.

Each script file starts with a header stating its KEYS, ARGV and return value;
`_lib.lua` is prepended to every script so helpers are written once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

ScriptArg = str | int | float
ScriptArgs = Sequence[ScriptArg]


@cache
def _source(name: str) -> str:
    folder = resources.files("chronoq.redis") / "scripts"
    lib = (folder / "_lib.lua").read_text(encoding="utf-8")
    body = (folder / f"{name}.lua").read_text(encoding="utf-8")
    return f"{lib}\n{body}"


class Script:
    """One Lua script, run with EVALSHA and loaded on demand (after a restart too)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = _source(name)
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    async def __call__(self, redis: Redis, keys: Sequence[str], args: ScriptArgs) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await redis.script_load(self.source)
            return await redis.evalsha(self.sha, len(keys), *keys, *args)

    def queue(self, pipe: Any, keys: Sequence[str], args: ScriptArgs) -> None:
        """Add a call of this script to a pipeline. Sent as a plain command: Cluster
        pipelines refuse the `evalsha` method, though they route EVALSHA by its keys."""
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)

    def call_sync(self, client: redis.Redis, keys: Sequence[str], args: ScriptArgs) -> Any:
        """The same, on a blocking client (the sync client's fast path)."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)


ScriptCall = tuple[Script, Sequence[str], ScriptArgs]


async def pipelined(client: Redis, calls: Sequence[ScriptCall]) -> list[Any]:
    """Run script calls in one round trip. A server that lost its script cache (a
    restart, a failover) is sent the scripts and asked again: callers' scripts are
    compare-and-set or idempotent, so a call that already ran is safe to resend."""
    for attempt in range(2):
        async with client.pipeline(transaction=False) as pipe:
            for script, keys, args in calls:
                script.queue(pipe, keys, args)
            try:
                return list(await pipe.execute())
            except NoScriptError:
                if attempt:
                    raise
        for script in {call[0].name: call[0] for call in calls}.values():
            await client.script_load(script.source)
    raise AssertionError("unreachable")


class Scripts:
    """The script catalogue. Attribute names match the .lua file names."""

    def __init__(self) -> None:
        self.enqueue = Script("enqueue")
        self.clock = Script("clock")
        self.claim = Script("claim")
        self.complete = Script("complete")
        self.fail = Script("fail")
        self.renew = Script("renew")
        self.release = Script("release")
        self.recover = Script("recover")
        self.cancel = Script("cancel")
        self.requeue_dead = Script("requeue_dead")
        self.purge_dead = Script("purge_dead")
        self.retire = Script("retire")
        self.schedule_put = Script("schedule_put")
        self.schedule_remove = Script("schedule_remove")
        self.schedule_due = Script("schedule_due")
        self.schedule_advance = Script("schedule_advance")
        self.defer = Script("defer")
        self.limit_acquire = Script("limit_acquire")
        self.limit_sync = Script("limit_sync")
        self.undefer = Script("undefer")
        self.lock_acquire = Script("lock_acquire")
        self.lock_release = Script("lock_release")
        self.lock_renew = Script("lock_renew")


SCRIPTS = Scripts()
