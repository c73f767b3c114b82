"""Issue 10's ("observe") benchmark bars, on a private redis-server this starts on a
free port (`--save "" --appendonly no`), so INFO counts this run alone:

1. cost: processing throughput with history + events + metrics on (the defaults)
   and off (CHRONOQ_EVENTS=0, CHRONOQ_METRICS=0; the history indexes have no
   switch, so they are on in both), interleaved rounds of in-process burst-Worker
   drains of no-op jobs; per job, the Redis time (server CPU and FCALL usec from
   INFO) and bytes (MEMORY USAGE of the record, stream, rollup and index keys).
   Bar: on >= 80 % of off.
2. scrape: `chronoq metrics serve`'s server, 50 GETs of /metrics with 1,000,000
   dead jobs present (and before they were written). Bar: p95 < 50 ms.
3. query: JobSearch first pages with 1,000,000 dead jobs. Bar: p95 < 100 ms.
4. memory: a steady rate with a short retention, used_memory every 10 s; slope.
   Default 3 minutes; `--long` runs the 30 minutes the issue names.

    PYTHONPATH=$PWD/src /work/venv/bin/python bench/observe/run.py [--long]

Writes bench/observe/results.json and RESULTS.md (see _report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # bench/ (harness.resp) and this folder

import _history  # noqa: E402
import _report  # noqa: E402
from harness.resp import Resp  # noqa: E402

from chronoq import App  # noqa: E402
from chronoq.client import JobRequest  # noqa: E402
from chronoq.core.settings import Settings  # noqa: E402
from chronoq.redis.keys import Keyspace  # noqa: E402
from chronoq.worker import Worker, WorkerOptions  # noqa: E402

REDIS = "/usr/bin/redis-server"
QUEUE = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_server() -> Iterator[int]:
    folder = Path(tempfile.mkdtemp(prefix="cq-obsbench-"))
    port = free_port()
    command = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    command += ["--save", "", "--appendonly", "no", "--maxmemory", "0"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                with Resp(port=port) as conn:
                    conn.command("PING")
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def info(port: int, section: str) -> dict[str, str]:
    with Resp(port=port) as conn:
        return _history._info(conn, section)


def command(port: int, *args: str | int) -> Any:
    with Resp(port=port, timeout=60) as conn:
        return conn.command(*args)


def server_cpu(port: int) -> float:
    cpu = info(port, "cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def commandstats(port: int) -> dict[str, tuple[int, int]]:
    """command -> (calls, usec); commands run by scripts count too (Redis 7)."""
    out = {}
    for key, value in info(port, "commandstats").items():
        fields = dict(part.split("=") for part in value.split(","))
        out[key.removeprefix("cmdstat_")] = (int(fields["calls"]), int(fields["usec"]))
    return out


def settings_for(url: str, prefix: str, on: bool, **env: str) -> Settings:
    """Settings read from the environment, as a worker started with these variables
    would read them (the switches' exact names: CHRONOQ_EVENTS, CHRONOQ_METRICS)."""
    names = {"CHRONOQ_EVENTS": "1" if on else "0", "CHRONOQ_METRICS": "1" if on else "0", **env}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        settings = Settings(redis_url=url, prefix=prefix)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert settings.events is on and settings.metrics is on
    return settings


def noop_app(settings: Settings) -> App:
    app = App("obsbench", settings=settings)

    @app.task(queue=QUEUE, name="noop")
    async def noop() -> None:
        return None

    return app


async def enqueue(app: App, jobs: int) -> None:
    async with app.client() as client:
        for start in range(0, jobs, 1000):
            batch = min(1000, jobs - start)
            await client.enqueue_many(JobRequest("noop", queue=QUEUE) for _ in range(batch))


def key_bytes(port: int, prefix: str) -> dict[str, Any]:
    """MEMORY USAGE (SAMPLES 0) of one finished record and of the key families that
    history, events and metrics write."""
    q = Keyspace(prefix).queue(QUEUE)
    with Resp(port=port, timeout=60) as conn:

        def usage(key: str) -> int:
            return int(conn.command("MEMORY", "USAGE", key, "SAMPLES", "0") or 0)

        def matching(pattern: str) -> list[str]:
            found, cursor = [], "0"
            while True:
                cursor, keys = conn.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
                found += keys
                if cursor == "0":
                    return found

        some = conn.command("ZRANGE", q.done, 0, 0)
        rollups = [k for r in "mhd" for k in matching(q.rollup(r, 0)[:-1] + "*")]
        indexes = [q.done, q.index("f", "t", "noop"), q.index_prefix + "f:keys"]
        return {
            "record": usage(q.job(some[0])) if some else 0,
            "record_fields": len(conn.command("HKEYS", q.job(some[0]))) if some else 0,
            "stream": usage(q.events),
            "stream_entries": int(conn.command("XLEN", q.events)),
            "rollup_keys": len(rollups),
            "rollups": sum(usage(k) for k in rollups) + usage(q.histograms),
            "indexes": sum(usage(k) for k in indexes),
        }


def cost_round(port: int, jobs: int, on: bool, tag: str) -> dict[str, Any]:
    command(port, "FLUSHALL")
    url, prefix = f"redis://127.0.0.1:{port}/0", f"obsc{tag}"
    app = noop_app(settings_for(url, prefix, on))
    asyncio.run(enqueue(app, jobs))
    memory_before = int(info(port, "memory")["used_memory"])
    command(port, "CONFIG", "RESETSTAT")
    cpu_before = server_cpu(port)
    worker = Worker(app, WorkerOptions(queues=QUEUE, burst=True))
    began = time.perf_counter()
    asyncio.run(worker.run())
    took = time.perf_counter() - began
    assert worker.jobs_done == jobs, worker.jobs_done
    cpu = server_cpu(port) - cpu_before
    stats = commandstats(port)
    memory_after = int(info(port, "memory")["used_memory"])
    return {
        "on": on,
        "rate": jobs / took,
        "seconds": took,
        "redis_cpu_us_per_job": cpu * 1e6 / jobs,
        "fcall_us_per_job": stats.get("fcall", (0, 0))[1] / jobs,
        "calls_per_job": {k: round(c / jobs, 3) for k, (c, _) in sorted(stats.items())},
        "used_memory_delta_per_job": (memory_after - memory_before) / jobs,
        "bytes": key_bytes(port, prefix),
    }


def cost(port: int, jobs: int, rounds: int, seed: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    order: list[str] = []
    rng = random.Random(seed)
    for n in range(rounds):
        pair = [False, True]
        rng.shuffle(pair)
        for on in pair:
            order.append(f"r{n}:{'on' if on else 'off'}")
            rows.append(cost_round(port, jobs, on, f"{n}{int(on)}"))
            print(f"  cost {order[-1]}: {rows[-1]['rate']:,.0f} jobs/s", flush=True)

    def med(on: bool, get: Callable[[dict[str, Any]], float]) -> float:
        return float(statistics.median(get(r) for r in rows if r["on"] is on))

    summary = {}
    for name, get in {
        "rate": lambda r: r["rate"],
        "redis_cpu_us_per_job": lambda r: r["redis_cpu_us_per_job"],
        "fcall_us_per_job": lambda r: r["fcall_us_per_job"],
        "used_memory_delta_per_job": lambda r: r["used_memory_delta_per_job"],
        "record_bytes": lambda r: r["bytes"]["record"],
        "stream_bytes": lambda r: r["bytes"]["stream"],
        "rollup_bytes": lambda r: r["bytes"]["rollups"],
        "index_bytes": lambda r: r["bytes"]["indexes"],
    }.items():
        on, off = med(True, get), med(False, get)
        summary[name] = {"on": on, "off": off, "extra": on - off}
    summary["ratio"] = summary["rate"]["on"] / summary["rate"]["off"]
    # Each round's on / off (the two drains of a round run back to back): a slow drift
    # of the shared machine cancels out of these, not out of the ratio of medians.
    paired = [
        next(r for r in rows[2 * n : 2 * n + 2] if r["on"])["rate"]
        / next(r for r in rows[2 * n : 2 * n + 2] if not r["on"])["rate"]
        for n in range(rounds)
    ]
    summary["paired_ratios"] = paired
    summary["paired_ratio_median"] = statistics.median(paired)
    return {"jobs": jobs, "rounds": rounds, "order": order, "runs": rows, "summary": summary}


async def steady(port: int, seconds: float, rate: float, retention: float) -> dict[str, Any]:
    """A worker and a paced producer in one loop; used_memory every 10 s."""
    url, prefix = f"redis://127.0.0.1:{port}/0", "obsm"
    env = {"CHRONOQ_RETENTION": f"{retention:g}"}
    app = noop_app(settings_for(url, prefix, True, **env))
    worker = Worker(app, WorkerOptions(queues=QUEUE))
    running = asyncio.create_task(worker.run())
    q = Keyspace(prefix).queue(QUEUE)
    samples: list[dict[str, Any]] = []
    sent, began = 0, time.monotonic()
    next_sample = began
    async with app.client() as client:
        while (now := time.monotonic()) - began < seconds:
            due = int((now - began) * rate) - sent
            if due > 0:
                await client.enqueue_many(JobRequest("noop", queue=QUEUE) for _ in range(due))
                sent += due
            if now >= next_sample:
                samples.append(sample(port, q, now - began, sent, worker.jobs_done))
                next_sample += 10
            await asyncio.sleep(0.02)
        samples.append(sample(port, q, time.monotonic() - began, sent, worker.jobs_done))
    worker.request_stop()
    await running
    return {"seconds": seconds, "rate": rate, "retention": retention, "samples": samples}


def sample(port: int, q: Any, at: float, sent: int, done: int) -> dict[str, Any]:
    memory = info(port, "memory")
    with Resp(port=port) as conn:
        sizes = [int(conn.command("ZCARD", k)) for k in (q.done, q.ready, q.active)]
        stream = int(conn.command("XLEN", q.events))
        keys = int(conn.command("DBSIZE"))
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "t": round(at, 1),
        "used_memory": int(memory["used_memory"]),
        "used_memory_rss": int(memory["used_memory_rss"]),
        "keys": keys,
        "done_zset": sizes[0],
        "ready": sizes[1],
        "active": sizes[2],
        "stream": stream,
        "sent": sent,
        "done": done,
        "bench_maxrss_kb": rss_kb,
    }


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (per second)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    num = sum((x - mx) * (y - my) for x, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return num / den if den else 0.0


def memory(port: int, seconds: float, rate: float, retention: float) -> dict[str, Any]:
    command(port, "FLUSHALL")
    result = asyncio.run(steady(port, seconds, rate, retention))
    warm = max(60.0, 3 * retention)  # records live `retention`, trims every retention/4
    kept = [s for s in result["samples"] if s["t"] >= warm]
    per_s = slope([(s["t"], s["used_memory"]) for s in kept])
    mean = statistics.mean(s["used_memory"] for s in kept)
    result.update(
        warmup_seconds=warm,
        slope_bytes_per_min=per_s * 60,
        mean_used_memory=mean,
        growth_30min_pct=per_s * 1800 / mean * 100,
        first=kept[0],
        last=kept[-1],
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per cost drain")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--history", type=int, default=1_000_000, help="dead jobs written")
    parser.add_argument("--samples", type=int, default=50, help="scrapes and queries each")
    parser.add_argument("--minutes", type=float, default=3.0, help="steady-rate run length")
    parser.add_argument("--long", action="store_true", help="the 30-minute steady-rate run")
    parser.add_argument("--rate", type=float, default=200.0, help="steady-rate jobs/s")
    parser.add_argument("--retention", type=float, default=20.0, help="CHRONOQ_RETENTION, s")
    parser.add_argument("--phases", default="cost,history,memory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the phases not run from out/results.json (marked as kept)",
    )
    args = parser.parse_args()
    minutes = 30.0 if args.long else args.minutes
    phases = args.phases.split(",")
    results: dict[str, Any] = {"meta": _report.meta(sys.argv, args), "noise": {}}
    with private_server() as port:
        results["meta"]["redis"] = info(port, "server")["redis_version"]
        for phase in phases:
            began, load = time.monotonic(), os.getloadavg()[0]
            ticks = _report.cpu_ticks()
            print(f"phase {phase}", flush=True)
            if phase == "cost":
                results["cost"] = cost(port, args.jobs, args.rounds, args.seed)
            elif phase == "history":
                command(port, "FLUSHALL")
                url = f"redis://127.0.0.1:{port}/0"
                results["history"] = _history.run(url, args.history, args.samples)
            elif phase == "memory":
                results["memory"] = memory(port, minutes * 60, args.rate, args.retention)
            results["noise"][phase] = {
                "seconds": round(time.monotonic() - began, 1),
                "load_before": load,
                "load_after": os.getloadavg()[0],
                "machine_busy": _report.busy_since(ticks),
            }
    if args.keep:
        _report.keep_others(results, args.out / "results.json")
    _report.write(results, args.out)


if __name__ == "__main__":
    main()
