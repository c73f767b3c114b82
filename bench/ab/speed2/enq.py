"""Single-enqueue cost on a private redis-server: client CPU and wall per call, and
Redis commands per call (INFO commandstats deltas, nested script calls included).

    PYTHONPATH=$PWD/src /work/venv/bin/python bench/ab/speed2/enq.py [--n 5000] [--rounds 5] [--mode sync|async]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import tempfile
import time

import redis

from chronoq import App, Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cmdstats(r: redis.Redis) -> dict[str, int]:
    out = {}
    for k, v in r.info("commandstats").items():
        out[k] = int(v["calls"])
        out[k + "_usec"] = int(v["usec"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mode", default="sync")
    a = ap.parse_args()
    port = free_port()
    d = tempfile.mkdtemp()
    srv = subprocess.Popen(
        [
            "/usr/bin/redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            d,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        r = redis.Redis(port=port)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        app = App(
            "bench", settings=Settings(redis_url=url, prefix="bench", retention=1, keep_result=0)
        )

        @app.task(name="noop")
        async def noop() -> None:
            return None

        cpu, wall, cmds = [], [], []
        if a.mode == "sync":
            client = app.sync_client()
            client.enqueue(noop)
            for _ in range(a.rounds):
                before = cmdstats(r)
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(a.n):
                    client.enqueue(noop)
                c1, t1 = time.process_time(), time.perf_counter()
                after = cmdstats(r)
                cpu.append((c1 - c0) / a.n * 1e6)
                wall.append((t1 - t0) / a.n * 1e6)
                cmds.append(
                    {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}
                )
                r.flushdb()
            client.close()
        else:

            async def go() -> None:
                async with app.client() as client:
                    await client.enqueue(noop)
                    for _ in range(a.rounds):
                        before = cmdstats(r)
                        t0, c0 = time.perf_counter(), time.process_time()
                        for _ in range(a.n):
                            await client.enqueue(noop)
                        c1, t1 = time.process_time(), time.perf_counter()
                        after = cmdstats(r)
                        cpu.append((c1 - c0) / a.n * 1e6)
                        wall.append((t1 - t0) / a.n * 1e6)
                        cmds.append(
                            {
                                k: after[k] - before.get(k, 0)
                                for k in after
                                if after[k] - before.get(k, 0)
                            }
                        )
                        r.flushdb()

            asyncio.run(go())
        print(f"mode={a.mode} n={a.n} rounds={a.rounds} load={os.getloadavg()[0]:.2f}")
        print(
            f"client CPU/call us: median {statistics.median(cpu):.1f}  all {[round(x, 1) for x in cpu]}"
        )
        print(
            f"wall/call us: median {statistics.median(wall):.1f} -> {1e6 / statistics.median(wall):,.0f} jobs/s  all {[round(x, 1) for x in wall]}"
        )
        last = cmds[-1]
        print(f"redis FCALL usec/call: {last.pop('cmdstat_fcall_usec', 0) / a.n:.1f}")
        usec = {
            k.removeprefix("cmdstat_")[:-5]: round(v / a.n, 2)
            for k, v in last.items()
            if k.endswith("_usec")
        }
        usec.pop("info", None)
        print(f"usec/call of the commands inside (Redis commandstats): {usec}")
        last = {k: v for k, v in last.items() if not k.endswith("_usec")}
        top = {k.removeprefix("cmdstat_"): round(v / a.n, 2) for k, v in sorted(last.items())}
        top.pop("info", None)
        print(f"commands/call: {top}")
    finally:
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()
