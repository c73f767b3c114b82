"""Every script's header states its KEYS and ARGV, and every caller passes exactly
those: the test drives the real callers (broker, schedule store, limiter, locks, the
sync enqueuer) through a recording proxy and compares each FCALL they send with
the header of the script it runs, key by key, by the keys.py name of each key.

Header format (one declaration per line, so it can be read by eye and by this test):

    -- KEYS[n] name  description      name: the keys.py attribute the caller passes
    -- ARGV[n] description            (continuation lines start with '--   ')
    -- ARGV[n..] description          a variadic tail: ARGV[n] and after
    -- Returns ...
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from itertools import takewhile
from pathlib import Path
from typing import Any

import pytest

from chronoq import App, Chain, Step
from chronoq.client import JobRequest
from chronoq.control.limiter import Limiter, LimitRequest
from chronoq.core.alerts import AlertRule, RuleKind
from chronoq.core.operations import OperationKind, OperationSpec, OperationState
from chronoq.core.ops import OpsBatch
from chronoq.core.registry import PublishedTask
from chronoq.redis.alerts import Observation
from chronoq.redis.keys import Keyspace
from chronoq.redis.limits import LimitStore
from chronoq.redis.registry import Publisher
from chronoq.redis.schedules import Advance
from chronoq.redis.scripts import LIBRARY, SCRIPTS, Script
from chronoq.schedule.model import ScheduleDef
from tests.redis.wire import Command, RecordingProxy
from tests.worker.helpers import wait_until

SCRIPTS_DIR = Path(__file__).resolve().parents[2] / "src" / "chronoq" / "redis" / "scripts"
HOUR_MS = 3_600_000
LOCK_TTL = 1.5  # renewed after 0.5 s; a loaded machine would have to stall 1.5 s to lose it
KEY_LINE = re.compile(r"^-- KEYS\[(\d+)\] +([a-z_]+)(?: {2,}\S.*)?$")
ARG_LINE = re.compile(r"^-- ARGV\[(\d+)(\.\.)?\] +\S")
SECOND_DECLARATION = re.compile(r"\s{2,}(?:KEYS|ARGV)\[\d+\]")


@dataclass(frozen=True)
class Header:
    script: str
    keys: list[str]  # declared key names, in KEYS order
    argv: int  # declared fixed arguments
    variadic: bool  # ARGV[argv + 1..] may follow
    body: str

    def check_argc(self, argc: int) -> bool:
        return argc >= self.argv if self.variadic else argc == self.argv


def read_header(script: str) -> Header:
    lines = (SCRIPTS_DIR / f"{script}.lua").read_text().split("\n")
    header = list(takewhile(lambda line: line.startswith("--"), lines))
    where = f"{script}.lua header"
    keys: list[str] = []
    argv, variadic = 0, False
    for line in header:
        assert not SECOND_DECLARATION.search(line), f"{where}: one declaration per line: {line!r}"
        if "KEYS[" in line:
            match = KEY_LINE.match(line)
            assert match, f"{where}: write keys as '-- KEYS[n] name  description': {line!r}"
            assert int(match.group(1)) == len(keys) + 1, f"{where}: KEYS out of order: {line!r}"
            keys.append(match.group(2))
        elif line.startswith("-- ARGV["):
            match = ARG_LINE.match(line)
            assert match, f"{where}: write arguments as '-- ARGV[n] description': {line!r}"
            assert not variadic, f"{where}: nothing may follow a variadic ARGV[n..]: {line!r}"
            assert int(match.group(1)) == argv + 1, f"{where}: ARGV out of order: {line!r}"
            variadic = bool(match.group(2))
            argv += 0 if variadic else 1
    assert keys, f"{where} declares no KEYS"
    assert argv or variadic, f"{where} declares no ARGV"
    assert any(line.startswith("-- Returns") for line in header), f"{where} has no Returns line"
    return Header(script, keys, argv, variadic, "\n".join(lines[len(header) :]))


def script_files() -> list[str]:
    return sorted(p.stem for p in SCRIPTS_DIR.glob("*.lua") if p.stem != LIBRARY)


def catalogue() -> dict[str, Script]:
    return {s.name: s for s in vars(SCRIPTS).values() if isinstance(s, Script)}


# -- the headers themselves --------------------------------------------------


def test_every_script_file_is_in_the_catalogue_and_back() -> None:
    entries = catalogue()
    assert sorted(entries) == script_files()
    for attribute, script in vars(SCRIPTS).items():
        assert attribute == script.name, f"SCRIPTS.{attribute} runs {script.name}.lua"


@pytest.mark.parametrize("script", script_files())
def test_the_header_declares_what_the_body_uses(script: str) -> None:
    header = read_header(script)
    used_keys = {int(n) for n in re.findall(r"KEYS\[(\d+)\]", header.body)}
    assert used_keys <= set(range(1, len(header.keys) + 1)), (script, sorted(used_keys))
    if not header.variadic:
        used_args = {int(n) for n in re.findall(r"ARGV\[(\d+)\]", header.body)}
        assert used_args <= set(range(1, header.argv + 1)), (script, sorted(used_args))


def test_the_library_touches_no_key_or_argument_itself() -> None:
    library = (SCRIPTS_DIR / f"{LIBRARY}.lua").read_text()
    assert not re.search(r"\b(KEYS|ARGV)\[", library)


# -- the callers against the headers ------------------------------------------


class KeyNames:
    """The keys.py name of a key: the attribute giving it exactly, or for a per-item
    key (job hash, inbox, ...) the `*_prefix` attribute it starts with, less `_prefix`."""

    def __init__(self, *owners: object) -> None:
        self.exact: dict[str, str] = {}
        self.prefixes: list[tuple[str, str]] = []
        for owner in owners:
            for attribute, value in _string_attributes(owner):
                self.exact[value] = attribute
                if attribute.endswith("_prefix"):
                    self.prefixes.append((value, attribute.removesuffix("_prefix")))
        self.prefixes.sort(key=lambda item: -len(item[0]))

    def __call__(self, key: str) -> str:
        if key in self.exact:
            return self.exact[key]
        for prefix, name in self.prefixes:
            if key.startswith(prefix):
                return name
        return f"<a key keys.py does not name: {key}>"


def _string_attributes(owner: object) -> Iterator[tuple[str, str]]:
    for attribute in dir(type(owner)):
        if isinstance(getattr(type(owner), attribute, None), property | cached_property):
            value = getattr(owner, attribute)
            if isinstance(value, str):
                yield attribute, value


def renewals(proxy: RecordingProxy) -> int:
    function = SCRIPTS.lock_renew.function.encode()
    return sum(1 for command in list(proxy.commands) if command[:2] == [b"FCALL", function])


async def drive_every_script(app: App, proxy: RecordingProxy) -> None:
    """Real calls of every caller of a script, the way chronoq makes them."""
    async with app.client() as client:
        broker = client.broker
        made = await client.enqueue_many(
            JobRequest("t", [i], max_retries=0, force=True) for i in range(8)
        )
        await client.cancel(made[7].id)
        claim = await broker.claim(
            "default", 6, lease_ms=60_000, token="tok", worker_id="w1", retention_ms=HOUR_MS
        )
        a, b, c, d, e, _ = (job.id for job in claim.jobs)
        await broker.renew("default", [(a, "tok")], lease_ms=60_000)
        await broker.progress("default", a, "tok", 0.5, "half way")
        await broker.complete("default", [(a, "tok", "1")], retention_ms=1, result_ttl_ms=1)
        for dead in (b, c):
            await broker.fail("default", dead, "tok", error="e", traceback="", retry_in_ms=None)
        await client.backend.history.resolve("default", "job", b, "handled")
        later = int(time.time() * 1000) + 60_000
        await broker.defer("default", [(d, "tok", later, '{"lim": 1}')])
        await broker.undefer("default", "lim", [d])
        await broker.release("default", [(e, "tok")])
        await broker.recover("default", default_max_retries=3)
        await broker.requeue_dead("default", b)
        await broker.purge_dead("default", c)
        await client.retry(made[7].id)  # cancelled: retried
        await client.cancel(made[7].id)
        await client.delete(made[7].id)
        await broker.retire("default", "w1")
        await asyncio.sleep(0.01)
        await broker.trim("default", retention_ms=1)
        control = client.backend.queue_control
        await control.pause("default", "headers", by="test")
        await control.resume("default")
        await control.drain("default", retention_ms=HOUR_MS)

        limit = app.limit("lim", "10/s")
        async with app.backend() as backend:
            limits = backend.limits
            await limits.set(limit)
            await limits.sync_declared([limit])
        await Limiter(LimitStore(broker.redis, broker.keys)).decide("lim", [LimitRequest(key="k")])

    async with app.backend() as backend:
        store = backend.schedules
        await store.add(ScheduleDef("s", "t", "@every 1s"))
        batch = await store.due(10)
        due_ms = next((item.due_ms for item in batch.upcoming + batch.items), 0)
        await store.advance([Advance("s", due_ms, next_due=None, fired=1, last=None)])
        await store.remove("s")
        await store.sync_declared([ScheduleDef("d", "t", "@every 1s")], app="headers")
        for name, meta in (await store.declared_by("headers")).items():
            await store.retire(name, meta)

    @app.task(name="published")
    def published(n: int) -> None: ...

    async with app.backend() as backend:
        entry = Publisher("p1", "headers", tasks={"published": "v"})
        await backend.registry.publish(entry, [PublishedTask.of(published.definition)], ttl=5)
        await backend.registry.refresh("p1", ttl=5)
        await backend.registry.live()
        await backend.registry.withdraw("p1")

    async with app.backend() as backend:
        rules = {"r": AlertRule("r", RuleKind.QUEUE_LENGTH, pending=0)}
        seen = Observation("r", "default", True, 1.0, "m", "warning")
        await backend.alerts.transition([seen], observed_ms=int(time.time() * 1000), rules=rules)
        batch = OpsBatch()
        batch.count("limit", "lim", "granted", int(time.time() * 1000))
        await backend.ops.write(batch)

    async with app.backend() as backend:
        ops = backend.operations
        spec = OperationSpec(OperationKind.REQUEUE, {"status": "dead"})
        await ops.create("op1", spec, "idem")
        await ops.claim("tok", 60_000, "op1")
        await ops.renew("op1", "tok", 60_000)
        await ops.write_part("default", "op1", "tok", [b])
        await ops.seal_parts("op1", "tok", {"default": 1})
        await ops.captured("op1", "tok", 1, ["default"])
        await ops.batch("default", "op1", "tok", spec, 10)
        await ops.finish("op1", "tok", OperationState.DONE)
        await ops.create("op2", spec)
        await ops.cancel("op2")

    ledger = app.ledger("headers")
    await ledger.claim("k", "started", owner="o")
    await ledger.advance("k", "done", owner="o")

    await drive_the_workflow_scripts(app)
    await drive_the_campaign_scripts(app)

    # Each lock is held until its watcher has renewed it once (every ttl/3).
    before = renewals(proxy)

    async def renewed() -> bool:
        return renewals(proxy) > before

    async with app.lock("report", ttl=LOCK_TTL):
        await wait_until(renewed, timeout=30, interval=0.02)
    async with app.backend() as backend:
        await backend.locks.force_release("report")
    drive_the_sync_callers(app, proxy)


async def drive_the_workflow_scripts(app: App) -> None:
    @app.task(name="wf_step")
    def wf_step(n: int) -> int: ...

    async with app.workflows() as flows:
        chain = Chain([Step("wf_step", 1), Step("wf_step")])
        await flows.start(chain, workflow_id="wfh")  # create, release, enqueued
        broker = flows.client.broker
        (job,) = (await broker.claim("default", 1, lease_ms=60_000, token="wt", worker_id="w",
                                     retention_ms=HOUR_MS)).jobs  # fmt: skip
        await broker.complete("default", [(job.id, "wt", "2")], retention_ms=1, result_ttl_ms=1)
        await flows.settle("wfh")  # finish, open
        await flows.pause("wfh")  # control
        await flows.store.attend_at("wfh", 0)
        await flows.store.claim_due(lease_ms=1000, limit=5)
        await flows.cancel("wfh")


async def drive_the_campaign_scripts(app: App) -> None:
    async with app.client() as client:
        store = client.backend.campaigns
        await store.create("hc", '{"name": "hc"}', draft=True)  # create
        await store.transition("hc", "schedule")  # state
        started = await store.start_run("hc", fence=1, max_runs=None)  # run start
        assert started is not None and started.started
        await store.enroll("hc", [("a@b.co", '{"email": "a@b.co"}')], max_recipients=None)
        await store.step_begin("hc", "email", "a@b.co", "j1", stops_on=["reply"], suppressed="")
        await store.step_end("hc", "email", "a@b.co", "j1")
        await store.end_run("hc", started.run, "completed", final=True)
    async with app.backend() as backend:
        await backend.campaign_sends.grant(
            "acct", "job", day=date(2026, 12, 1), cap=lambda first: 5, domain="x.com",
            domain_cap=None, day_end_ms=int(time.time() * 1000) + 60_000,
            now_ms=int(time.time() * 1000),
        )  # fmt: skip


def drive_the_sync_callers(app: App, proxy: RecordingProxy) -> None:
    before = renewals(proxy)
    with app.sync_lock("report-sync", ttl=LOCK_TTL):
        deadline = time.monotonic() + 30
        while renewals(proxy) == before and time.monotonic() < deadline:
            time.sleep(0.02)
    app.coordinator.close_sync()
    with app.sync_client() as sync:
        sync.submit(JobRequest("t", (1,), force=True))


def script_calls(commands: list[Command]) -> Iterator[tuple[str, list[str], list[Any]]]:
    """(script, KEYS, ARGV) of each FCALL sent."""
    by_function = {s.function: s.name for s in catalogue().values()}
    for command in commands:
        if command[0].upper() != b"FCALL":
            continue
        numkeys = int(command[2])
        keys = [k.decode() for k in command[3 : 3 + numkeys]]
        name = by_function.get(command[1].decode(), f"<unknown function {command[1].decode()}>")
        yield name, keys, command[3 + numkeys :]


@pytest.fixture
def proxy(redis_url: str) -> Iterator[RecordingProxy]:
    recorder = RecordingProxy(redis_url)
    yield recorder
    recorder.close()


@pytest.mark.timeout(60)
async def test_every_caller_passes_the_keys_and_arguments_its_script_declares(
    proxy: RecordingProxy, prefix: str
) -> None:
    app = App("headers", redis_url=proxy.url, prefix=prefix)
    try:
        await drive_every_script(app, proxy)
    except Exception as exc:  # a caller passing the wrong keys may well break its script
        failed: Exception | None = exc
    else:
        failed = None
    keyspace = Keyspace(prefix)
    name_of = KeyNames(
        keyspace,
        keyspace.queue("default"),
        keyspace.schedules,
        keyspace.registry,
        keyspace.limit("lim"),
        keyspace.lock("report"),
        keyspace.lock("report-sync"),
        keyspace.alerts,
        keyspace.operations,
        keyspace.ops,
        keyspace.ledger("headers", "k"),
        keyspace.workflow("wfh"),
        keyspace.campaign("hc"),
        keyspace.campaign_account("acct"),
    )
    headers = {script: read_header(script) for script in script_files()}
    seen: set[str] = set()
    problems = []
    for script, keys, args in script_calls(proxy.take()):
        seen.add(script)
        header = headers.get(script)
        if header is None:
            problems.append(f"{script}: not a script file")
            continue
        passed = [name_of(key) for key in keys]
        if passed != header.keys:
            problems.append(f"{script}: KEYS declared {header.keys}, caller passed {passed}")
        if not header.check_argc(len(args)):
            declared = f"{header.argv}{' or more' if header.variadic else ''}"
            problems.append(f"{script}: ARGV declared {declared}, caller passed {len(args)}")
    assert not problems, "\n".join(sorted(set(problems)))
    if failed is not None:
        raise failed
    missing = sorted(set(headers) - seen)
    assert not missing, f"not driven (add a real call to drive_every_script): {missing}"
