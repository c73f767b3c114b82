"""What an idle worker spends on each job: the worker process's CPU per job while jobs
arrive one at a time, as in the `latency` scenario.

The idle-start tail is made by jobs that arrive within a millisecond or two of the one
before (`latency_gaps.py`): they meet a worker still busy with that job. How long it
stays busy is its CPU per job on this path, which is not the CPU per job of a draining
worker (`process` rows: there one claim and one completion serve hundreds of jobs, and
the caches stay warm). This measures it for chronoq and huey:

- one worker process of the bench's own runner (`bench/systems/NAME.py`, the
  `latency` scenario's configuration), on the shared Redis, db 14;
- its CPU (every thread's run time from /proc/PID/task/*/schedstat, nanoseconds:
  exact, unlike tick-sampled utime) over IDLE seconds with no job, then over N no-op
  jobs sent one at a time by another process (the system's own client; exponential
  gaps at 100 jobs/s, as `latency`);
- CPU per job = (CPU during the stream - the idle rate x its duration) / N: what the
  jobs cost, without the worker's timers and heartbeats.

    python bench/client/idle_cpu.py [--systems chronoq,huey] [--baseline REF]
        [--n 1500] [--rounds 3] [--out bench/client]

The systems' venvs are the bench's (bench/.venvs, made by `bench/run.py` on first
use); `--baseline REF` adds `chronoq@REF` (REF's chronoq in a venv of its own, run by
this tree's runner, as `bench/run.py --baseline` does). Rounds are interleaved (order shuffled per round). Writes results-idle-cpu.json
beside this file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
sys.path.insert(0, str(BENCH))

from harness import venvs  # noqa: E402
from harness.resp import Resp  # noqa: E402

SYSTEMS_DIR = BENCH / "systems"
DB = 14
URL = f"redis://127.0.0.1:6379/{DB}"
RATE = 100.0
IDLE_S = 10.0
WARM_UP = 20  # jobs before measuring: imports and first connections done

# The producer, run by the system's venv in bench/client (in bench/systems `import
# chronoq` would find the runner of that name): N no-ops at RATE per second
# with exponential gaps (seeded), each sent when its time comes (open loop).
PRODUCER = {
    "chronoq": """
import asyncio, random, sys, time
from chronoq import App
from chronoq.core.settings import Settings
n, seed = int(sys.argv[1]), int(sys.argv[2])
app = App("bench", settings=Settings(redis_url={url!r}, prefix="bench", retention=1.0,
    keep_result=0))
async def noop() -> None:
    return None
task = app.task(name="noop")(noop)
async def main() -> None:
    client = app.client()
    rnd, due = random.Random(seed), time.perf_counter()
    for _ in range(n):
        due += rnd.expovariate({rate})
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        await client.enqueue(task)
asyncio.run(main())
""",
    "huey": """
import random, sys, time
sys.path.append({systems!r})
import huey_tasks
n, seed = int(sys.argv[1]), int(sys.argv[2])
rnd, due = random.Random(seed), time.perf_counter()
for _ in range(n):
    due += rnd.expovariate({rate})
    wait = due - time.perf_counter()
    if wait > 0:
        time.sleep(wait)
    huey_tasks.noop()
""",
}


def venv_python(system: str) -> Path:
    if "@" in system:
        return venvs.baseline_venv(venvs.resolve(system.split("@", 1)[1]), system)
    return venvs.ensure_venv(system)


def kind(system: str) -> str:
    return system.split("@", 1)[0]


def worker_cmd(system: str, python: Path) -> list[str]:
    if kind(system) == "chronoq":
        runner = str(SYSTEMS_DIR / "chronoq.py")
        return [str(python), runner, "worker", "--db", str(DB), "--url", URL, "--queues", "1"]
    consumer = str(python.parent / "huey_consumer")
    return [consumer, "huey_tasks.huey", "-w", "1", "-k", "thread", "-q"]


def cpu_seconds(pid: int) -> float:
    """Run time of every thread of `pid` so far (schedstat: ns on the CPU)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread ended
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    return total / 1e9


def produce(system: str, python: Path, n: int, seed: int) -> None:
    code = PRODUCER[kind(system)].format(url=URL, systems=str(SYSTEMS_DIR), rate=RATE)
    env = {**os.environ, "BENCH_REDIS_URL": URL}
    subprocess.run(
        [str(python), "-c", code, str(n), str(seed)], cwd=HERE, env=env, check=True,
        timeout=600,
    )  # fmt: skip


def measure(system: str, n: int, seed: int) -> dict[str, float]:
    python = venv_python(system)
    with Resp() as r:
        r.command("SELECT", DB)
        r.command("FLUSHDB")
    env = {**os.environ, "BENCH_REDIS_URL": URL}
    worker = subprocess.Popen(
        worker_cmd(system, python), cwd=SYSTEMS_DIR, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(3)
        produce(system, python, WARM_UP, seed + 1000)
        time.sleep(1)
        c0, t0 = cpu_seconds(worker.pid), time.perf_counter()
        time.sleep(IDLE_S)
        c1, t1 = cpu_seconds(worker.pid), time.perf_counter()
        produce(system, python, n, seed)
        time.sleep(1)  # the last job's outcome
        c2, t2 = cpu_seconds(worker.pid), time.perf_counter()
        if worker.poll() is not None:
            raise RuntimeError(f"{system} worker exited with {worker.returncode}")
    finally:
        worker.terminate()
        worker.wait(30)
    idle_rate = (c1 - c0) / (t1 - t0)
    per_job = ((c2 - c1) - idle_rate * (t2 - t1)) / n
    return {"cpu_us_per_job": round(per_job * 1e6, 1), "idle_ms_per_s": round(idle_rate * 1e3, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--systems", default="chronoq,huey")
    parser.add_argument("--baseline", default=None, help="git ref: also run chronoq@REF")
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    systems = args.systems.split(",") + ([f"chronoq@{args.baseline}"] if args.baseline else [])
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in systems}
    order = random.Random(1)
    for round_ in range(args.rounds):
        for name in order.sample(systems, len(systems)):
            runs[name].append(measure(name, args.n, seed=round_ + 1))
            print(f"{name} round {round_ + 1}: {runs[name][-1]}", flush=True)
    results: dict[str, Any] = {
        "n": args.n, "rounds": args.rounds, "rate": RATE, "checkout": venvs.checkout_state(),
        "systems": {},
    }  # fmt: skip
    for name in systems:
        per_job = [r["cpu_us_per_job"] for r in runs[name]]
        idle = [r["idle_ms_per_s"] for r in runs[name]]
        results["systems"][name] = {
            "cpu_us_per_job_median": statistics.median(per_job),
            "idle_ms_per_s_median": statistics.median(idle),
            "rounds": runs[name],
        }
        print(
            f"{name}: {statistics.median(per_job):.0f} us of worker CPU per job "
            f"(rounds {per_job}); idle {statistics.median(idle):.2f} ms/s"
        )
    Path(args.out, "results-idle-cpu.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
