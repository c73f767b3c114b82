"""Issue 11's bars for the HTTP API and the dashboard, on a private redis-server this
starts on a free port (`--save "" --appendonly no`; other processes' load on the
shared 6379 does not reach it, and INFO counts this run alone), with 1,000,000 dead
jobs written first (bench/observe/_history.py: real dead records cloned, with every
index entry fail.lua writes), and the site served by a real uvicorn process on
loopback (bench/api/_server.py: `chronoq.cli.dashboard.serve`, what `chronoq
dashboard` runs):

1. latency: the API's list endpoints and the dashboard's pages, one request at a
   time. Bar: p95 < 100 ms.
2. rate: an open-loop load at 200 requests/s (50 % GET a job, 30 % list a task's
   dead jobs, 20 % enqueue). Bar: p99 < 20 ms.
3. tabs: Redis commands per second with 50 open overview tabs (live stream) vs 1
   (and 0), a trickle of enqueues beside. Bar: 50 cost no more than 1.
4. capture: a bulk operation's capture of its frozen set (in-process), and the
   search walk it did before the index fast path.

Each measurement runs `--rounds` times (default 3): medians and spread.

    PYTHONPATH=$PWD/src /work/venv/bin/python bench/api/run.py [--phases latency,rate,tabs,capture]

Writes bench/api/results.json and RESULTS.md (see _tables.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "observe"), str(HERE)]

import _capture  # noqa: E402
import _history  # noqa: E402
import _http  # noqa: E402
import _server  # noqa: E402
import _tables  # noqa: E402
import httpx  # noqa: E402
from harness.resp import Resp  # noqa: E402

from chronoq import App  # noqa: E402
from chronoq.client import JobRequest  # noqa: E402
from chronoq.core.access import Role  # noqa: E402

REDIS = "/usr/bin/redis-server"
PHASES = ("latency", "rate", "tabs", "capture")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_server() -> Iterator[int]:
    folder = Path(tempfile.mkdtemp(prefix="cq-apibench-"))
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


@contextmanager
def site(url: str, extra_path: str = "") -> Iterator[tuple[str, int]]:
    """The served site in its own process; yields (base URL, its pid). `extra_path`:
    a folder put first on the server's path (e.g. uvloop and httptools installed
    with `pip install --target DIR uvloop httptools`: what uvicorn[standard] adds,
    and uvicorn uses when it finds them)."""
    port = free_port()
    path = [extra_path] if extra_path else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(ROOT / "src")])}
    # One token drives the whole load: the API's own per-token rate limit (default
    # 50/s) would answer 429; the bars measure the API, not that limit.
    env.setdefault("CHRONOQ_API_RATE", "off")
    command = [sys.executable, str(HERE / "_server.py"), url, str(port)]
    server = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the site did not start")
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(20)


def server_runtime(extra_path: str) -> dict[str, Any]:
    """Which event loop and HTTP parser uvicorn picks in the server process."""
    path = [extra_path] if extra_path else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(ROOT / "src")])}
    probe = "import importlib.util as u; print(bool(u.find_spec('uvloop')), bool(u.find_spec('httptools')))"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    uvloop, httptools = out.stdout.split()
    return {"loop": "uvloop" if uvloop == "True" else "asyncio",
            "http": "httptools" if httptools == "True" else "h11", "extra_path": extra_path}  # fmt: skip


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def make_token(app: App) -> str:
    async with app.backend() as backend:
        _, visible = await backend.access.create_token("bench", Role.ADMIN)
        return visible


def dead_ids(base: str, token: str) -> tuple[list[str], str]:
    """A pool of dead job ids (the newest 1,000) and one failure group."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as api:
        jobs = api.get("/v1/dead?limit=1000").json()["jobs"]
        groups = api.get("/v1/dead/groups").json()
    return [j["id"] for j in jobs], str(groups[0]["fingerprint"])


def trickle(app: App, per_second: float) -> Any:
    """A coroutine function enqueueing no-op jobs at a steady rate (the tabs phase's
    activity, so the cards change)."""

    async def run() -> None:
        async with app.client() as client:
            while True:
                await client.submit(JobRequest("noop", [0]))
                await asyncio.sleep(1 / per_second)

    return run


def save(out: Path, results: dict[str, Any]) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "RESULTS.md").write_text(_tables.render(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total", type=int, default=1_000_000, help="dead jobs written")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=50, help="requests per endpoint per round")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="per steady-rate round")
    parser.add_argument("--tab-seconds", type=float, default=10.0)
    parser.add_argument("--tabs", type=int, default=50)
    parser.add_argument("--walk-rounds", type=int, default=1, help="search-walk timings")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument(
        "--render", action="store_true", help="only rewrite OUT/RESULTS.md from OUT/results.json"
    )
    parser.add_argument(
        "--server-path", default="", help="folder first on the server's path (uvloop, httptools)"
    )
    args = parser.parse_args()
    if args.render:
        found = json.loads((args.out / "results.json").read_text())
        (args.out / "RESULTS.md").write_text(_tables.render(found))
        return
    phases = [p for p in args.phases.split(",") if p]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase {sorted(unknown)[0]!r}: {', '.join(PHASES)}")
    results: dict[str, Any] = {"meta": _tables.meta(args, phases)}
    with private_server() as port:
        url = f"redis://127.0.0.1:{port}/0"
        templates = asyncio.run(_history.real_templates(url))
        seeded = _history.seed(url, args.total, templates)
        with Resp(port=port) as conn:
            memory = _history._info(conn, "memory")
            version = _history._info(conn, "server")["redis_version"]
        results["seed"] = {"dead_jobs": args.total + len(templates), "seconds": round(seeded, 1),
                           "used_memory_mb": round(int(memory["used_memory"]) / 2**20, 1),
                           "redis": version}  # fmt: skip
        print(f"seeded {args.total:,} dead jobs in {seeded:.1f} s", flush=True)
        app = _server.make_app(url)
        token = asyncio.run(make_token(app))
        with site(url, args.server_path) as (base, pid):
            print(f"site {base} pid {pid}", flush=True)
            results["server"] = server_runtime(args.server_path)
            cookies = _http.login(base, token)
            ids, group = dead_ids(base, token)
            if "latency" in phases:
                rounds = []
                for r in range(args.rounds):
                    cpu, load = cpu_seconds(pid), _http.load_average()
                    found = _http.latencies(
                        base, token, cookies, job_id=ids[0], group=group, count=args.count, seed=r
                    )
                    rounds.append({"endpoints": found, "load_before": load,
                                   "load_after": _http.load_average(),
                                   "server_cpu_s": round(cpu_seconds(pid) - cpu, 2)})  # fmt: skip
                    print(f"latency round {r}: done", flush=True)
                results["latency"] = rounds
                save(args.out, results)
            if "rate" in phases:
                rounds = []
                for r in range(args.rounds):
                    cpu = cpu_seconds(pid)
                    found = asyncio.run(
                        _http.steady(base, token, ids, rate=args.rate, seconds=args.seconds, seed=r)
                    )
                    found["server_cpu_s"] = round(cpu_seconds(pid) - cpu, 2)
                    rounds.append(found)
                    print(f"rate round {r}: p99 {found['p99_ms']} ms", flush=True)
                results["rate"] = rounds
                save(args.out, results)
            if "tabs" in phases:
                rounds = []
                for r in range(args.rounds):
                    counts = (0, 1, args.tabs) if r % 2 == 0 else (args.tabs, 1, 0)
                    row = {}
                    for n in counts:
                        row[str(n)] = asyncio.run(
                            tab_round(base, cookies, port, n, args=args, app=app)
                        )
                    rounds.append(row)
                    print(f"tabs round {r}: " + ", ".join(
                        f"{n}: {v['commands_per_s']}/s" for n, v in row.items()), flush=True)  # fmt: skip
                results["tabs"] = rounds
                save(args.out, results)
        if "capture" in phases:
            results["capture"] = asyncio.run(capture_phase(app, args))
            save(args.out, results)
    save(args.out, results)
    print(f"wrote {args.out / 'RESULTS.md'}")


async def tab_round(
    base: str, cookies: dict[str, str], port: int, n: int, *, args: argparse.Namespace, app: App
) -> dict[str, Any]:
    activity = trickle(app, 5.0)
    if n == 0:  # nobody watching: the trickle alone
        before, began = _http.command_calls(port), time.monotonic()
        task = asyncio.create_task(activity())
        await asyncio.sleep(3 + args.tab_seconds)
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        after, spent = _http.command_calls(port), time.monotonic() - began
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        return {"tabs": 0, "seconds": round(spent, 1),
                "commands_per_s": round(sum(delta.values()) / spent, 1),
                "by_command_per_s": {k: round(v / spent, 1) for k, v in sorted(delta.items()) if v},
                "load": _http.load_average()}  # fmt: skip
    return await _http.tabs(base, cookies, port, n, seconds=args.tab_seconds, activity=activity)


async def capture_phase(app: App, args: argparse.Namespace) -> dict[str, Any]:
    group = await _capture.a_group(app)
    out: dict[str, Any] = {}
    for name, where in _capture.filters(group).items():
        captures = []
        for _ in range(args.rounds):
            load = _http.load_average()
            captures.append({**await _capture.timed_capture(app, where), "load": load})
        walks = []
        for _ in range(args.walk_rounds):
            load = _http.load_average()
            created = int(time.time() * 1000)
            walks.append({**await _capture.timed_walk(app, where, created), "load": load})
        out[name] = {"capture": captures, "walk": walks}
        print(f"capture {name}: {[c['seconds'] for c in captures]} s; walk "
              f"{[w['seconds'] for w in walks]} s", flush=True)  # fmt: skip
    return out


if __name__ == "__main__":
    main()
