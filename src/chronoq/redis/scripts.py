"""The Lua scripts in scripts/*.lua, loaded as one Redis function library.

Each script file starts with a header stating its KEYS (one `-- KEYS[n] name ...`
line per key, named as in keys.py), ARGV (one `-- ARGV[n] ...` line each, `ARGV[n..]`
for a variadic tail) and return value (`-- Returns ...`); tests check the callers
against it. `_lib.lua` holds the helpers every script shares.

The scripts run as Redis functions (FUNCTION LOAD once, then FCALL): the library's
helpers are defined once when the library loads, not again on every call as a
prepended EVAL script would (that cost about 13 us a call, a third of an enqueue's
server time). Functions are stored with the data, so they survive restarts with
persistence and reach replicas, which is also what a failover needs. The library's
name carries a hash of its code: two chronoq versions on one server each keep
their own. A server without the library ("Function not found": a fresh server, a
new Cluster node) is sent it and asked again, once. Errors are reported at the line
of the file that raised them. Requires Redis 7.0 or Valkey 7.2+.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from chronoq.redis.lane import BaseLane

ScriptArg = str | int | float
ScriptArgs = Sequence[ScriptArg]


LIBRARY = "_lib"
_SERVER_LINE = re.compile(r"user_function:(\d+)")
_FUNCTION_NAME = re.compile(r"script: cq_[0-9a-f]+_[a-z_]+, ")


@cache
def _read(name: str) -> str:
    return (resources.files("chronoq.redis") / "scripts" / f"{name}.lua").read_text("utf-8")


class Library:
    """The function library: `_lib.lua`, then each script wrapped as a function."""

    def __init__(self, names: Sequence[str]) -> None:
        parts = [_read(LIBRARY)] + [_read(name) for name in names]
        digest = hashlib.sha1("\0".join(parts).encode()).hexdigest()[:12]
        self.name = f"chronoq_{digest}"
        self.prefix = f"cq_{digest}_"
        lines = [f"#!lua name={self.name}", *_read(LIBRARY).split("\n")]
        # Where each script's first line lands in the library (1-based), for errors.
        self.starts: dict[str, int] = {}
        for name in names:
            lines.append(f"redis.register_function('{self.prefix}{name}', function(KEYS, ARGV)")
            self.starts[name] = len(lines) + 1
            lines.extend(_read(name).split("\n"))
            lines.append("end)")
        self.code = "\n".join(lines)
        self.library_lines = _read(LIBRARY).count("\n") + 1

    def function(self, name: str) -> str:
        return self.prefix + name

    def locate(self, message: str, script_name: str) -> str:
        """A Lua error as the files say it: the server numbers the library's lines
        (`user_function:170`), which points nowhere a reader can look. Each such
        place becomes `claim.lua:8`, or `_lib.lua:20` (naming the running script
        too). Messages without a place are returned unchanged."""
        in_library = False

        def place(match: re.Match[str]) -> str:
            nonlocal in_library
            line = int(match.group(1))
            for name, start in self.starts.items():
                length = _read(name).count("\n") + 1
                if start <= line < start + length:
                    return f"{name}.lua:{line - start + 1}"
            in_library = True
            return f"{LIBRARY}.lua:{line - 1}"  # after the '#!lua' line

        located = _SERVER_LINE.sub(place, message)
        located = _FUNCTION_NAME.sub("", located)
        return f"{located} (running {script_name}.lua)" if in_library else located


def _script_names() -> list[str]:
    folder = resources.files("chronoq.redis") / "scripts"
    names = (p.name.removesuffix(".lua") for p in folder.iterdir() if p.name.endswith(".lua"))
    return sorted(n for n in names if n != LIBRARY)


LIB = Library(_script_names())


def locate_error(message: str, script_name: str) -> str:
    return LIB.locate(message, script_name)


def missing_library(error: BaseException) -> bool:
    """The server has no chronoq functions of this version (yet)."""
    return isinstance(error, ResponseError) and "Function not found" in str(error)


async def load_library(client: Redis | BaseLane) -> None:
    """Send the library (to every primary, on a Cluster). REPLACE: a concurrent
    loader of the same code is harmless."""
    await client.function_load(LIB.code, replace=True)


def load_library_sync(client: redis.Redis) -> None:
    client.function_load(LIB.code, replace=True)


class Script:
    """One Lua script, run as a function of the library (FCALL), which is loaded
    on demand (after a restart or failover too)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.function = LIB.function(name)

    async def __call__(self, redis: Redis | BaseLane, keys: Sequence[str], args: ScriptArgs) -> Any:
        """Run the script on `redis`: a client, or a lane of one (chronoq.redis.lane)."""
        try:
            try:
                return await redis.fcall(self.function, len(keys), *keys, *args)
            except ResponseError as exc:
                if not missing_library(exc):
                    raise
                await load_library(redis)
                return await redis.fcall(self.function, len(keys), *keys, *args)
        except ResponseError as exc:
            self._locate(exc)
            raise

    def command(self, keys: Sequence[str], args: ScriptArgs) -> tuple[ScriptArg, ...]:
        """The FCALL command calling this script, for raw senders and pipelines."""
        return ("FCALL", self.function, len(keys), *keys, *args)

    def queue(self, pipe: Any, keys: Sequence[str], args: ScriptArgs) -> None:
        """Add a call of this script to a pipeline."""
        pipe.execute_command(*self.command(keys, args))

    def call_sync(self, client: redis.Redis, keys: Sequence[str], args: ScriptArgs) -> Any:
        """The same, on a blocking client (sync locks, the sync client on a Cluster)."""
        try:
            try:
                return client.fcall(self.function, len(keys), *keys, *args)
            except ResponseError as exc:
                if not missing_library(exc):
                    raise
                load_library_sync(client)
                return client.fcall(self.function, len(keys), *keys, *args)
        except ResponseError as exc:
            self._locate(exc)
            raise

    def _locate(self, error: ResponseError) -> None:
        """Rewrite the error's message in place: its type and traceback stay."""
        if error.args and isinstance(error.args[0], str):
            error.args = (locate_error(error.args[0], self.name), *error.args[1:])


ScriptCall = tuple[Script, Sequence[str], ScriptArgs]


async def pipelined(client: Redis, calls: Sequence[ScriptCall]) -> list[Any]:
    """Run script calls in one round trip. A server without the library is sent it
    and asked again: callers' scripts are compare-and-set or idempotent, so a call
    that already ran is safe to resend."""
    for attempt in range(2):
        async with client.pipeline(transaction=False) as pipe:
            for script, keys, args in calls:
                script.queue(pipe, keys, args)
            try:
                return list(await pipe.execute())
            except ResponseError as exc:
                if attempt or not missing_library(exc):
                    raise
        await load_library(client)
    raise AssertionError("unreachable")


class Scripts:
    """The script catalogue. Attribute names match the .lua file names."""

    def __init__(self) -> None:
        self.enqueue = Script("enqueue")
        self.enqueue_plain = Script("enqueue_plain")
        self.clock = Script("clock")
        self.claim = Script("claim")
        self.complete = Script("complete")
        self.progress = Script("progress")
        self.fail = Script("fail")
        self.renew = Script("renew")
        self.release = Script("release")
        self.recover = Script("recover")
        self.trim = Script("trim")
        self.cancel = Script("cancel")
        self.requeue_dead = Script("requeue_dead")
        self.purge_dead = Script("purge_dead")
        self.retry_finished = Script("retry_finished")
        self.delete_finished = Script("delete_finished")
        self.resolve = Script("resolve")
        self.retire = Script("retire")
        self.schedule_put = Script("schedule_put")
        self.schedule_remove = Script("schedule_remove")
        self.schedule_due = Script("schedule_due")
        self.schedule_advance = Script("schedule_advance")
        self.schedule_retire = Script("schedule_retire")
        self.registry_publish = Script("registry_publish")
        self.registry_withdraw = Script("registry_withdraw")
        self.registry_live = Script("registry_live")
        self.defer = Script("defer")
        self.limit_acquire = Script("limit_acquire")
        self.limit_sync = Script("limit_sync")
        self.undefer = Script("undefer")
        self.lock_acquire = Script("lock_acquire")
        self.lock_release = Script("lock_release")
        self.lock_renew = Script("lock_renew")
        self.alert_transition = Script("alert_transition")
        self.queue_pause = Script("queue_pause")
        self.queue_resume = Script("queue_resume")
        self.queue_drain = Script("queue_drain")
        self.lock_force_release = Script("lock_force_release")
        self.operation_create = Script("operation_create")
        self.operation_claim = Script("operation_claim")
        self.operation_renew = Script("operation_renew")
        self.operation_captured = Script("operation_captured")
        self.operation_batch = Script("operation_batch")
        self.operation_finish = Script("operation_finish")
        self.operation_cancel = Script("operation_cancel")
        self.ops_record = Script("ops_record")
        self.ledger_advance = Script("ledger_advance")
        self._workflow_scripts()
        self._campaign_scripts()

    def _workflow_scripts(self) -> None:
        """The workflow store's (chronoq.redis.workflows)."""
        self.wf_create = Script("wf_create")
        self.wf_finish = Script("wf_finish")
        self.wf_open = Script("wf_open")
        self.wf_release = Script("wf_release")
        self.wf_enqueued = Script("wf_enqueued")
        self.wf_control = Script("wf_control")
        self.wf_due_claim = Script("wf_due_claim")
        self.cmp_grant = Script("cmp_grant")  # the campaign send grant (campaign_sends)

    def _campaign_scripts(self) -> None:
        """The campaign store's (chronoq.redis.campaigns)."""
        self.cmp_create = Script("cmp_create")
        self.cmp_state = Script("cmp_state")
        self.cmp_run_start = Script("cmp_run_start")
        self.cmp_run_end = Script("cmp_run_end")
        self.cmp_enroll = Script("cmp_enroll")
        self.cmp_step_begin = Script("cmp_step_begin")
        self.cmp_step_end = Script("cmp_step_end")


SCRIPTS = Scripts()
