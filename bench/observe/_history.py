"""Issue 10's history bars: a Prometheus scrape and a filtered history query with
1,000,000 dead jobs present.

How the million is written (fast, and as the scripts would leave it): first a few
hundred REAL dead jobs (tasks that raise, max_retries=0, one burst Worker), so
every field and key is what fail.lua writes. Then each of the 1,000,000 is a clone
of one of those records (its task and error kind), with its own id (26 hex, time
ordered, the queue's tag), account and times, written by pipelined HSET; and the
index entries fail.lua's dead_letter + note_failure write for a death: ZADD to
`dead`, `d:t:<task>`, `d:a:<account>`, `d:g:<fingerprint>`, the group's accounts
and `groups`; the group hashes' `count` and the stats hash's `dead` raised by the
numbers written. Multi-member ZADDs per batch (same final state, fewer commands).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
import statistics
import threading
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from harness.resp import Resp

from chronoq import App
from chronoq.client import JobRequest
from chronoq.core.ids import queue_tag
from chronoq.core.job import JobStatus
from chronoq.core.settings import Settings
from chronoq.observe.exposition import MetricsServer
from chronoq.observe.search import JobFilter, JobSearch
from chronoq.redis.keys import Keyspace
from chronoq.worker import Worker, WorkerOptions

PREFIX = "obsh"
QUEUE = "hist"
TASKS = [f"task{i}" for i in range(10)]
ACCOUNTS = 1000
ERRORS = [
    ("ConnectionError", "connection reset by peer"),
    ("TimeoutError", "upstream timed out after 30s"),
    ("ValueError", "bad payload: missing field 'email'"),
    ("KeyError", "'profile_url'"),
    ("PermissionError", "token revoked for account"),
    ("RuntimeError", "rate limited by provider (429)"),
    ("LookupError", "lead not found"),
    ("OSError", "disk quota exceeded"),
    ("ArithmeticError", "division by zero in score"),
    ("UnicodeError", "cannot decode response body"),
]
RARE = "quota exceeded"  # one error kind of 10: error_contains that matches 10 %
ABSENT = "no job has this text"  # error_contains that matches none: the time-bound worst
BATCH = 5000


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    s = sorted(samples)
    n = len(s) - 1
    return {
        "p50_ms": round(s[int(0.50 * n)] * 1000, 2),
        "p95_ms": round(s[int(0.95 * n)] * 1000, 2),
        "max_ms": round(s[-1] * 1000, 2),
        "min_ms": round(s[0] * 1000, 2),
        "n": len(s),
    }


def make_app(url: str) -> App:
    app = App("obsbench-history", settings=Settings(redis_url=url, prefix=PREFIX))
    for index, name in enumerate(TASKS):
        register(app, name, index)
    return app


def register(app: App, name: str, index: int) -> None:
    async def fail(kind: int) -> None:
        cls, text = ERRORS[kind]
        raise getattr(builtins, cls)(f"{text} ({name})")

    fail.__name__ = f"fail_{index}"
    app.task(name=name, queue=QUEUE, max_retries=0)(fail)


async def real_templates(url: str) -> dict[tuple[str, int], dict[str, str]]:
    """One real dead record per (task, error kind), as fail.lua wrote it."""
    app = make_app(url)
    async with app.client() as client:
        requests = [
            JobRequest(task, [kind], queue=QUEUE, account=f"acct-{i}")
            for i, (task, kind) in enumerate((t, k) for t in TASKS for k in range(len(ERRORS)))
        ]
        enqueued = await client.enqueue_many(requests)
    worker = Worker(app, WorkerOptions(queues=QUEUE, burst=True, scheduler=False, alerts=False))
    quiet = logging.getLogger("chronoq")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # a hundred expected tracebacks say nothing
    try:
        await worker.run()
    finally:
        quiet.setLevel(level)
    q = Keyspace(PREFIX).queue(QUEUE)
    out: dict[tuple[str, int], dict[str, str]] = {}
    with Resp(port=_port(url)) as conn:
        for request, job in zip(requests, enqueued, strict=True):
            flat = conn.command("HGETALL", q.job(job.id))
            record = dict(zip(flat[::2], flat[1::2], strict=True))
            assert record.get("status") == "dead", record
            out[(str(request.task), int(request.args[0]))] = record
    return out


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", maxsplit=1)[0])


def pipeline(conn: Resp, commands: Sequence[Sequence[str | int]]) -> list[Any]:
    parts: list[bytes] = []
    for args in commands:
        parts.append(b"*%d\r\n" % len(args))
        for arg in args:
            data = str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    conn.sock.sendall(b"".join(parts))
    return [conn._reply() for _ in commands]


def seed(url: str, total: int, templates: dict[tuple[str, int], dict[str, str]]) -> float:
    """`total` dead jobs cloned from the real ones; returns the seconds it took."""
    q = Keyspace(PREFIX).queue(QUEUE)
    ix, tag, rng = q.index_prefix, queue_tag(QUEUE), random.Random(10)
    began = time.perf_counter()
    base = int(time.time() * 1000) - total  # one death per ms, ending now
    counts: dict[str, int] = {}
    with Resp(port=_port(url), timeout=120) as conn:
        for start in range(0, total, BATCH):
            commands: list[list[str | int]] = []
            zsets: dict[str, list[str | int]] = {}
            for i in range(start, min(start + BATCH, total)):
                task, kind = TASKS[i % len(TASKS)], rng.randrange(len(ERRORS))
                record = dict(templates[(task, kind)])
                ms, account = base + i, f"acct-{rng.randrange(ACCOUNTS)}"
                job_id = f"{ms - 5:012x}{tag}{i:010x}"
                shift = ms - int(record["fin"])
                for name in ("enq", "run", "st", "fin"):
                    if name in record:
                        record[name] = str(int(float(record[name])) + shift)
                record["acct"] = account
                flat: list[str | int] = ["HSET", q.job(job_id)]
                for k, v in record.items():
                    flat += [k, v]
                commands.append(flat)
                fp = record["fp"]
                counts[fp] = counts.get(fp, 0) + 1
                for key, member in (
                    (q.dead, job_id),
                    (f"{ix}d:t:{task}", job_id),
                    (f"{ix}d:a:{account}", job_id),
                    (f"{ix}d:g:{fp}", job_id),
                    (f"{ix}g:{fp}:a", account),
                    (f"{ix}groups", fp),
                ):
                    zsets.setdefault(key, ["ZADD", key]).extend([ms, member])
            commands += list(zsets.values())
            pipeline(conn, commands)
        tail = [["HINCRBY", f"{ix}g:{fp}", "count", n] for fp, n in counts.items()]
        tail += [["HSET", f"{ix}g:{fp}", "last", base + total] for fp in counts]
        tail.append(["HINCRBY", q.stats, "dead", total])
        pipeline(conn, tail)
    return time.perf_counter() - began


def scrapes(app: App, count: int) -> dict[str, Any]:
    """`chronoq metrics serve`'s server (MetricsServer) on a free port, `count` GETs
    of /metrics one after another, each timed from request to last byte."""
    server = MetricsServer(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    host, port = server.address
    took: list[float] = []
    body = b""
    try:
        for _ in range(count + 1):  # the first opens the connections: not counted
            began = time.perf_counter()
            with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=30) as reply:
                body = reply.read()
            took.append(time.perf_counter() - began)
    finally:
        server.stop()
        thread.join(10)
    text = body.decode()
    dead_line = next(
        (
            ln
            for ln in text.splitlines()
            if ln.startswith('chronoq_queue_jobs{queue="hist",state="dead"')
        ),
        "",
    )
    return {**percentiles(took[1:]), "bytes": len(body), "dead_gauge": dead_line}


async def queries(app: App, count: int) -> dict[str, Any]:
    """JobSearch as `chronoq jobs search` runs it: first pages (50) of four filters,
    `count` each, the task and account drawn at random per query."""
    rng = random.Random(3)
    backend = app.backend()
    search = JobSearch(backend)
    dead = JobStatus.DEAD
    shapes = {
        "task+account+dead": lambda: JobFilter(
            task=rng.choice(TASKS), account=f"acct-{rng.randrange(ACCOUNTS)}", status=dead
        ),
        "task+dead+error_contains (10 % match)": lambda: JobFilter(
            task=rng.choice(TASKS), status=dead, error_contains=RARE
        ),
        "task+account+dead+error_contains (10 % match)": lambda: JobFilter(
            task=rng.choice(TASKS),
            account=f"acct-{rng.randrange(ACCOUNTS)}",
            status=dead,
            error_contains=RARE,
        ),
        "task+dead+error_contains (no match: time-bound)": lambda: JobFilter(
            task=rng.choice(TASKS), status=dead, error_contains=ABSENT
        ),
    }
    out: dict[str, Any] = {}
    try:
        await search.search(JobFilter(status=dead), limit=1)  # connections opened
        for name, make in shapes.items():
            took, found, examined = [], [], []
            for _ in range(count):
                where = make()
                began = time.perf_counter()
                page = await search.search(where)
                took.append(time.perf_counter() - began)
                found.append(len(page.jobs))
                examined.append(page.examined)
            out[name] = {
                **percentiles(took),
                "jobs_per_page_median": statistics.median(found),
                "examined_median": statistics.median(examined),
            }
    finally:
        await backend.close()
    return out


def run(url: str, total: int, count: int) -> dict[str, Any]:
    """The history phase: scrape before and after the seed, then the queries."""
    templates = asyncio.run(real_templates(url))
    app = make_app(url)
    before = scrapes(app, count)
    seconds = seed(url, total, templates)
    with Resp(port=_port(url)) as conn:
        q = Keyspace(PREFIX).queue(QUEUE)
        dead = int(conn.command("ZCARD", q.dead))
        memory = _info(conn, "memory")
    after = scrapes(app, count)
    found = asyncio.run(queries(app, count))
    return {
        "dead_jobs": dead,
        "templates": len(templates),
        "seed_seconds": round(seconds, 1),
        "used_memory_mb": round(int(memory["used_memory"]) / 2**20, 1),
        "scrape_before_seed": before,
        "scrape": after,
        "queries": found,
    }


def _info(conn: Resp, section: str) -> dict[str, str]:
    out = {}
    for line in str(conn.command("INFO", section)).splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out
