"""The email bench: sends per second through the whole path, and the limiter's
cost per send. See README.md for the method; results land in results.json and
RESULTS.md beside this file.

    PYTHONPATH=src /work/venv/bin/python bench/email/run.py [--sends 2000] [--rounds 3]
        [--concurrency 32] [--quick]

Starts its own redis-server (so Redis CPU is the run's own), an aiosmtpd sink
process and, per run, one `chronoq worker` process; nothing else is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.email.report import markdown  # noqa: E402

from chronoq import App, JobRequest  # noqa: E402
from chronoq.redis.keys import Keyspace  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
MODES = {"off": "bench-send-free", "on": "bench-send-limited"}
HIGH_RATE = "1000000/s"  # the limit in mode "on": never waits at these rates


def cpu_seconds(pid: int) -> float:
    """user+sys of `pid` and its reaped children, from /proc/PID/stat."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = data[data.rindex(")") + 2 :].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Redis:
    """A private redis-server (no persistence) for the bench's runs."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bench-email-redis-")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        conn = redis.Redis.from_url(self.url)
        for _ in range(200):
            try:
                conn.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        self.version = str(conn.info("server")["redis_version"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Sink:
    """bench/email/smtp_sink.py in its own process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "smtp_sink.py")],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        self.port = int(line[1])

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=10)
        return int(out.split()[-1])


def start_worker(url: str, prefix: str, port: int, concurrency: int) -> subprocess.Popen[bytes]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "BENCH_SMTP_PORT": str(port), "BENCH_RATE": HIGH_RATE, "PYTHONPATH": path}
    command = [sys.executable, "-m", "chronoq", "worker", "bench.email.mail_app:app",
               "--redis-url", url, "--prefix", prefix, "--concurrency", str(concurrency),
               "--queues", "mail", "--log-level", "warning"]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def one_run(server: Redis, sink: Sink, mode: str, sends: int, concurrency: int) -> dict[str, Any]:
    """Start a worker, wait until it serves; then time enqueueing `sends` jobs (one
    per recipient) and their sends until the queue's completion counts say all
    ended."""
    prefix = f"bench-email-{uuid.uuid4().hex[:8]}"
    conn = redis.Redis.from_url(server.url)
    worker = start_worker(server.url, prefix, sink.port, concurrency)
    app = App("bench-email-client", redis_url=server.url, prefix=prefix)
    own = [worker.pid, sink.process.pid, server.process.pid]
    try:
        deadline = time.monotonic() + 60
        while conn.zcard(Keyspace(prefix).workers) < 1:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the bench worker did not start")
            time.sleep(0.05)
        campaign = f"c-{prefix}"
        requests = [
            JobRequest(MODES[mode], kwargs={"campaign": campaign, "sender": "bench",
                                            "to": f"r{i}@example.test", "name": f"R{i}"})
            for i in range(sends)
        ]  # fmt: skip
        with app.sync_client() as client:
            client.queues()  # connect before the clock starts
            cpu0 = {pid: cpu_seconds(pid) for pid in own}
            me0 = time.process_time()
            busy0, total0 = machine_busy()
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            for start in range(0, sends, 500):
                client.enqueue_many(requests[start : start + 500])
            enqueued = time.perf_counter() - t0
            finished = dead = 0
            while finished + dead < sends:
                counts = {q.queue: q for q in client.queues()}.get("mail")
                finished = counts.finished if counts else 0
                dead = counts.dead if counts else 0
                if time.perf_counter() - t0 > 600:
                    raise RuntimeError(f"only {finished + dead} of {sends} ended in 600 s")
                time.sleep(0.01)
            wall = time.perf_counter() - t0
            busy1, total1 = machine_busy()
            me = time.process_time() - me0
            cpu = {pid: cpu_seconds(pid) - cpu0[pid] for pid in own}
        ledger_sent = sum(1 for _ in conn.scan_iter(match=f"{prefix}:*ledger*", count=1000))
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    conn.flushdb()
    run_own = sum(cpu.values()) + me
    machine = busy1 - busy0
    cores = (total1 - total0) / max(wall, 1e-9)
    return {
        "mode": mode, "sends": sends, "dead": dead, "wall_s": round(wall, 4),
        "enqueue_s": round(enqueued, 4), "sends_per_s": round(sends / wall, 1),
        "worker_cpu_s": round(cpu[worker.pid], 4), "sink_cpu_s": round(cpu[sink.process.pid], 4),
        "redis_cpu_s": round(cpu[server.process.pid], 4), "bench_cpu_s": round(me, 4),
        "ledger_keys": ledger_sent, "load1_before": round(load0, 2),
        "other_cpu_cores": round(max(0.0, machine - run_own) / max(wall, 1e-9), 3),
        "machine_cores_seen": round(cores, 2),
    }  # fmt: skip


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in MODES:
        mine = [r for r in runs if r["mode"] == mode]
        per = {
            "sends_per_s": statistics.median(r["sends_per_s"] for r in mine),
            "wall_us_per_send": statistics.median(r["wall_s"] / r["sends"] * 1e6 for r in mine),
            "worker_cpu_us_per_send": statistics.median(
                r["worker_cpu_s"] / r["sends"] * 1e6 for r in mine
            ),
            "redis_cpu_us_per_send": statistics.median(
                r["redis_cpu_s"] / r["sends"] * 1e6 for r in mine
            ),
            "sink_cpu_us_per_send": statistics.median(
                r["sink_cpu_s"] / r["sends"] * 1e6 for r in mine
            ),
            "other_cpu_cores": statistics.median(r["other_cpu_cores"] for r in mine),
        }
        out[mode] = {k: round(v, 1) for k, v in per.items()}
    out["limiter_overhead"] = {
        key: round(out["on"][key] - out["off"][key], 1)
        for key in ("wall_us_per_send", "worker_cpu_us_per_send", "redis_cpu_us_per_send")
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="200 sends, 1 round (a smoke run)")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    if args.quick:
        args.sends, args.rounds = 200, 1
    server, sink = Redis(), Sink()
    runs: list[dict[str, Any]] = []
    order: list[str] = []
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        for rnd in range(args.rounds):
            modes = list(MODES)
            random.Random(args.seed * 1000 + rnd).shuffle(modes)
            for mode in modes:
                print(f"round {rnd + 1}: limits {mode} ...", file=sys.stderr)
                order.append(mode)
                runs.append(one_run(server, sink, mode, args.sends, args.concurrency))
                print(json.dumps(runs[-1]), file=sys.stderr)
    finally:
        received = sink.stop()
        server.stop()
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "command": " ".join(
            ["PYTHONPATH=src", "/work/venv/bin/python", "bench/email/run.py", *sys.argv[1:]]
        ),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "redis": server.version,
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {
            "sends": args.sends,
            "rounds": args.rounds,
            "concurrency": args.concurrency,
            "limit_on": HIGH_RATE,
        },
        "order": order,
        "received_by_sink": received,
        "runs": runs,
        "summary": summarise(runs),
    }
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "RESULTS.md").write_text(markdown(results))
    print((out / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
