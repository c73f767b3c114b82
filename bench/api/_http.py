"""bench/api's HTTP measurements against the served site (a real uvicorn process on
loopback): page and list latency one request at a time, an open-loop steady rate,
and the Redis commands of open dashboard tabs (server-sent events).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from _wire import Wire, WireError
from harness.resp import Resp

TASKS = [f"task{i}" for i in range(10)]
GRACE = 20.0  # s after a steady round's last planned request before the rest are cut


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """Milliseconds; nearest-rank on the sorted samples."""
    s = sorted(samples)
    n = len(s) - 1
    at = lambda q: round(s[int(q * n)] * 1000, 2)  # noqa: E731
    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "max_ms": round(s[-1] * 1000, 2), "n": len(s)}  # fmt: skip


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def login(base: str, token: str) -> dict[str, str]:
    """The dashboard's session cookie, by the login form (as a person logs in)."""
    with httpx.Client(base_url=base, follow_redirects=False) as web:
        reply = web.post("/login", data={"token": token, "next": "/"}, headers={"Origin": base})
        if reply.status_code != 303 or "chronoq_session" not in reply.cookies:
            raise RuntimeError(f"login failed: {reply.status_code} {reply.text[:200]}")
        return {"chronoq_session": str(reply.cookies["chronoq_session"])}


def endpoints(job_id: str, group: str) -> list[tuple[str, str, str]]:
    """(name, surface, path): `api` with the bearer token, `web` with the session."""
    return [
        ("API GET /v1/jobs?status=dead&task=T", "api", "/v1/jobs?status=dead&task={task}"),
        ("API GET /v1/jobs?status=dead&task=T&account=A", "api",
         "/v1/jobs?status=dead&task={task}&account={account}"),
        ("API GET /v1/jobs?filter=task:T status:dead -account:A", "api",
         "/v1/jobs?filter=task%3A{task}+status%3Adead+-account%3A{account}"),
        ("API GET /v1/jobs?status=dead&error_contains=quota (10 %)", "api",
         "/v1/jobs?status=dead&error_contains=quota"),
        ("API GET /v1/dead", "api", "/v1/dead"),
        ("API GET /v1/dead?error_group=G", "api", f"/v1/dead?error_group={group}"),
        ("API GET /v1/dead/groups", "api", "/v1/dead/groups"),
        ("API GET /v1/jobs/{id}", "api", f"/v1/jobs/{job_id}"),
        ("dashboard / (overview)", "web", "/"),
        ("dashboard /jobs?status=dead&task=T", "web", "/jobs?status=dead&task={task}"),
        ("dashboard /dead", "web", "/dead"),
        ("dashboard /jobs/{id}", "web", f"/jobs/{job_id}"),
        ("dashboard /failures", "web", "/failures"),
        ("dashboard /metrics", "web", "/metrics"),
    ]  # fmt: skip


def latencies(
    base: str,
    token: str,
    cookies: dict[str, str],
    *,
    job_id: str,
    group: str,
    count: int,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Each endpoint `count` times one after another (a first request, to open the
    connection and warm caches, not counted); the task and account drawn at random
    per request. A non-2xx reply is an error (the run stops)."""
    rng = random.Random(seed)
    out: dict[str, dict[str, Any]] = {}
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=base, headers=headers, timeout=30) as api,
        httpx.Client(base_url=base, cookies=cookies, timeout=30) as web,
    ):
        for name, surface, template in endpoints(job_id, group):
            client = api if surface == "api" else web
            took, sizes = [], []
            for i in range(count + 1):
                path = template.format(
                    task=rng.choice(TASKS), account=f"acct-{rng.randrange(1000)}"
                )
                began = time.perf_counter()
                reply = client.get(path)
                spent = time.perf_counter() - began
                if reply.status_code != 200:
                    raise RuntimeError(f"{name}: {reply.status_code} {reply.text[:300]}")
                if i:
                    took.append(spent)
                    sizes.append(len(reply.content))
            out[name] = {**percentiles(took), "bytes": int(statistics.median(sizes))}
    return out


async def steady(
    base: str, token: str, job_ids: Sequence[str], *, rate: float, seconds: float, seed: int
) -> dict[str, Any]:
    """Open loop: request i is sent at start + i / rate whatever the earlier ones
    did, and its latency runs from that planned moment to the reply's last byte
    (a server falling behind shows as latency, not as a lower rate); requests not
    done GRACE s after the last planned one are cut and count with the latency
    they had reached (a lower bound). Mix: 50 % GET a job, 30 % list dead jobs of
    a task (a page of 50), 20 % enqueue. The client is bench/api/_wire.py (httpx's
    pool was the bottleneck at this rate)."""
    rng = random.Random(seed)
    host, port = base.removeprefix("http://").split(":")
    wire = Wire(host, int(port), {"Authorization": f"Bearer {token}"})
    kinds: dict[str, list[float]] = {"get": [], "list": [], "enqueue": []}
    errors: list[str] = []
    total = int(rate * seconds)
    for _ in range(20):  # a first connection, warm caches
        await wire.request("GET", f"/v1/jobs/{job_ids[0]}")
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    done: list[float] = []

    async def one(i: int, kind: str, planned: float) -> None:
        try:
            if kind == "get":
                status, _ = await wire.request("GET", f"/v1/jobs/{rng.choice(job_ids)}")
            elif kind == "list":
                path = f"/v1/jobs?status=dead&task={rng.choice(TASKS)}"
                status, _ = await wire.request("GET", path)
            else:
                status, _ = await wire.request("POST", "/v1/jobs", {"task": "noop", "args": [i]})
        except (OSError, asyncio.IncompleteReadError, WireError) as exc:
            status = 0  # the connection failed: an error, with the time it took
            errors.append(f"{kind} {type(exc).__name__}")
        ended = loop.time()
        if status >= 300:
            errors.append(f"{kind} {status}")
        kinds[kind].append(ended - planned)
        done.append(ended)

    plan = [rng.choices(("get", "list", "enqueue"), (50, 30, 20))[0] for _ in range(total)]
    load_before, cpu = load_average(), time.process_time()
    tasks: list[asyncio.Task[None]] = []
    for i, kind in enumerate(plan):  # one sender: sleeps to each planned moment
        planned = start + i / rate
        await asyncio.sleep(max(0.0, planned - loop.time()))
        tasks.append(asyncio.create_task(one(i, kind, planned)))
    late: set[asyncio.Task[None]] = set()
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=GRACE)
    for task in late:  # a server that fell this far behind: counted, not awaited
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    cut = loop.time()
    for i, kind in enumerate(plan):  # each unfinished one: at least this late
        if tasks[i] in late:
            kinds[kind].append(cut - (start + i / rate))
    client_cpu = time.process_time() - cpu
    await wire.close()
    every = [x for samples in kinds.values() for x in samples]
    return {
        "planned_rate": rate,
        "achieved_rate": round(len(done) / max(1e-9, max(done, default=start) - start), 1),
        "requests": len(every),
        "unfinished": len(late),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        **percentiles(every),
        "by_kind": {k: percentiles(v) for k, v in kinds.items() if v},
        "connections": wire.opened,
        "client_cpu_s": round(client_cpu, 2),
        "load_before": load_before,
        "load_after": load_average(),
    }


def command_calls(port: int) -> dict[str, int]:
    """Calls per command since the server started (scripts' inner commands included);
    the bench's own INFO left out."""
    with Resp(port=port) as conn:
        text = str(conn.command("INFO", "commandstats"))
    out = {}
    for line in text.splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line.partition(":")
            calls = int(rest.split(",")[0].split("=")[1])
            out[name.removeprefix("cmdstat_")] = calls
    out.pop("info", None)
    return out


async def tabs(
    base: str,
    cookies: dict[str, str],
    port: int,
    count: int,
    *,
    seconds: float,
    activity: Callable[[], Any],
) -> dict[str, Any]:
    """`count` dashboard tabs on the overview: each loads the page, then holds the
    live stream (/events?view=overview) open and reads every update. The Redis
    commands over `seconds` (after a 3 s settle) are counted from INFO
    commandstats; `activity` (a coroutine function) runs beside them all along, so
    the cards change and updates flow."""
    received = [0] * count
    opened = asyncio.Event()
    ready = 0
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=count + 5)
    timeout = httpx.Timeout(30, read=None)
    async with httpx.AsyncClient(
        base_url=base, cookies=cookies, limits=limits, timeout=timeout
    ) as web:

        async def tab(i: int) -> None:
            nonlocal ready
            page = await web.get("/")
            page.raise_for_status()
            async with web.stream("GET", "/events?view=overview") as reply:
                reply.raise_for_status()
                ready += 1
                if ready == count:
                    opened.set()
                async for line in reply.aiter_lines():
                    if line.startswith("event: update"):
                        received[i] += 1
                    if stop.is_set():
                        return

        runner = asyncio.gather(*(tab(i) for i in range(count)))
        busy = asyncio.create_task(activity())
        try:
            await asyncio.wait_for(opened.wait(), 60)
            await asyncio.sleep(3)
            before, began = command_calls(port), time.monotonic()
            got_before = sum(received)
            await asyncio.sleep(seconds)
            after, spent = command_calls(port), time.monotonic() - began
            got = sum(received) - got_before
        finally:
            stop.set()
            busy.cancel()
            runner.cancel()
            for task in (busy, runner):
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                    await task
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta = {k: v for k, v in delta.items() if v}
    return {
        "tabs": count,
        "seconds": round(spent, 1),
        "commands_per_s": round(sum(delta.values()) / spent, 1),
        "by_command_per_s": {k: round(v / spent, 1) for k, v in sorted(delta.items())},
        "updates_per_tab_per_s": round(got / count / spent, 2),
        "load": load_average(),
    }
