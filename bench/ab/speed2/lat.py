"""Idle enqueue-to-start on a private redis-server, chronoq alone: one idle Worker
process; N stamp jobs sent open loop (exponential gaps at --rate/s, seeded) with the
awaited Client.submit; the task's first act records time.time() - sent (RPUSH).

    PYTHONPATH=$PWD/src /work/venv/bin/python bench/ab/speed2/lat.py [--n 400] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

import redis

from chronoq import App, JobRequest, Settings, Worker, WorkerOptions


def build(url: str) -> tuple[App, object]:
    app = App("lat", settings=Settings(redis_url=url, prefix="lat", retention=1, keep_result=0))
    aux = redis.Redis.from_url(url)

    @app.task(name="stamp")
    async def stamp(t: float) -> None:
        aux.rpush("lat:starts", time.time() - t)

    return app, stamp


def worker(url: str) -> None:
    app, _ = build(url)
    asyncio.run(Worker(app, WorkerOptions(queues="default")).run())


async def send(url: str, n: int, rate: float, seed: int) -> list[float]:
    app, stamp = build(url)
    r = redis.Redis.from_url(url)
    rng = random.Random(seed)
    statuses: dict[str, int] = {}
    async with app.client() as client:
        await client.submit(JobRequest(stamp, (time.time(),)))  # warm-up
        await asyncio.sleep(0.5)
        r.delete("lat:starts")
        t = time.perf_counter()
        for _ in range(n):
            t += rng.expovariate(rate)
            while (d := t - time.perf_counter()) > 0:
                await asyncio.sleep(d) if d > 0.002 else None
            job = await client.submit(JobRequest(stamp, (time.time(),)))
            statuses[job.status.value] = statuses.get(job.status.value, 0) + 1
        print("enqueue replies:", statuses)  # 'running': handed to the idle worker
        for _ in range(200):
            if r.llen("lat:starts") >= n:
                break
            await asyncio.sleep(0.05)
    got = [float(x) * 1000 for x in r.lrange("lat:starts", 0, -1)]
    if os.environ.get("LAT_DUMP"):  # in start order: a stall shows as a falling run
        worst = max(range(len(got)), key=got.__getitem__)
        print(
            "around the worst, in start order:", [round(x, 1) for x in got[worst - 5 : worst + 60]]
        )
    return sorted(got)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--worker", default="")
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = subprocess.Popen(["/usr/bin/redis-server", "--port", str(port), "--save", "",
                            "--appendonly", "no", "--dir", tempfile.mkdtemp()],
                           stdout=subprocess.DEVNULL)  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    r = redis.Redis(port=port)
    for _ in range(100):
        try:
            r.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    wrap = os.environ.get("LAT_WORKER_WRAP", "").split()  # e.g. a profiler's command
    w = subprocess.Popen([*wrap, sys.executable, __file__, "--worker", url])
    try:
        time.sleep(2.5)
        s = asyncio.run(send(url, a.n, a.rate, a.seed))
        pick = lambda q: s[int(q * (len(s) - 1))]  # noqa: E731
        print(f"n={len(s)} p50 {pick(0.5):.3f} ms p90 {pick(0.9):.3f} p99 {pick(0.99):.3f} "
              f"min {s[0]:.3f} load {os.getloadavg()[0]:.2f}")  # fmt: skip
    finally:
        w.terminate()
        w.wait()
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()
