"""Redis-side cost per processed job, measured on a private server.

Wall clock on a shared 2-CPU box is noisy; what limits throughput with two worker
processes is the single Redis thread, so this counts what Redis spends per job:

- `INFO cpu` (used_cpu_user + used_cpu_sys of redis-server): all its CPU, network
  reads and writes and command parsing included - the figure that bounds jobs/s.
- `INFO commandstats`: calls and usec of every command, those run inside scripts too
  (nested XADD, HSET, ZADD ... are counted under their own names as well as in FCALL).
- `SLOWLOG` with a 20 us threshold: the top-level commands that took longer, with their
  durations, so FCALL splits by function (claim, complete, ...), which commandstats
  cannot do. Not 0 us: commands run inside a script are logged too, and logging them
  (inside the FCALL's time) would inflate the scripts with many commands. The batch
  scripts take hundreds of us a call; the share of FCALL time the log caught is printed.
- `INFO memory` (used_memory) before the workers start (N jobs waiting) and when the
  last job is done.
- With `--callgrind`: the server runs under valgrind's callgrind, and the figure is
  the instructions it executed per job - exact, whatever else the machine runs (about
  50x slower: use --jobs 3000). Use it with `--procs replay`: real workers then run
  against a slow server, so their timers (renewals, trims, heartbeats) weigh 50x more
  per job than at full speed.

Each source tree (this one, and `--baseline REF` extracted with git archive into
bench/.baseline/SHA; `--variant LABEL=SRC,ENV=VALUE` adds more, e.g. events off) runs
the same child (`_child.py`) under its own PYTHONPATH: N no-op jobs are enqueued with
SyncClient.enqueue_many (not counted), stats are reset, then either

- P worker processes (default Worker options, as bench/systems/chronoq.py: concurrency
  32, batch 64, retention 1 s, keep_result 0, events and metrics at their defaults)
  drain them; the counters are read the moment the queue's `succeeded` counter reaches
  N (polled with HGET every 10 ms; those polls are subtracted), before the workers are
  stopped; or
- `replay`: one client runs the job path alone, claim 64 then complete them, until the
  queue is empty: the same calls in the same batches for every tree (no task runs, no
  timer fires), so the callgrind figure is reproducible to the instruction.

Rounds interleave the trees (a busy spell hits them alike); figures are medians.

    python bench/redis_cost/run.py [--jobs 20000] [--procs replay,1,2] [--rounds 3]
        [--baseline 0fdff18] [--variant ...] [--callgrind] [--out bench/redis_cost]

Writes results.json and prints a summary; RESULTS.md is written by hand from it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHILD = HERE / "_child.py"
STATS_KEY = "rc:{default}:stats"  # _child.PREFIX, queue 'default' (keys.py's layout)
OWN = {"hget", "info", "config|resetstat", "config|set", "slowlog|get", "slowlog|reset"}
OWN |= {"ping", "flushall", "hello", "client|setinfo", "config|get"}
SLOWLOG_US = 20
REPLAY_BATCH = 64  # jobs per claim and per complete in the replay (the Worker's batch)


def baseline_src(ref: str) -> tuple[str, Path]:
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tree = ROOT / "bench" / ".baseline" / sha
    if not (tree / "src" / "chronoq").exists():
        data = subprocess.run(
            ["git", "archive", "--format=tar", sha, "src"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        tree.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tree, filter="data")
    return sha, tree / "src"


class Server:
    """A private redis-server (optionally under valgrind's callgrind, which counts the
    instructions it executes: a figure no other process on the machine can disturb)."""

    def __init__(self, port: int, folder: Path, callgrind: bool) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
        command += ["--save", "", "--appendonly", "no", "--slowlog-max-len", "1000000"]
        self.folder = folder
        self.callgrind = callgrind
        if callgrind:
            out = str(folder / "cg.out")
            command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        self.conn = redis.Redis(port=port, decode_responses=True)
        self.url = f"redis://127.0.0.1:{port}/0"
        for _ in range(600):
            try:
                self.conn.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)

    def zero(self) -> None:
        if self.callgrind:
            subprocess.run(
                ["callgrind_control", "-z", str(self.process.pid)], check=True, capture_output=True
            )

    def instructions(self, keep: str = "") -> int:
        """Instructions executed since zero() (callgrind dumps them to a new file, kept
        as `keep` when given: read it with callgrind_annotate)."""
        if not self.callgrind:
            return 0
        before = set(self.folder.glob("cg.out*"))
        subprocess.run(
            ["callgrind_control", "-d", str(self.process.pid)], check=True, capture_output=True
        )
        dump = max(set(self.folder.glob("cg.out*")) - before, key=lambda f: f.stat().st_mtime)
        if keep:
            shutil.copy(dump, keep)
        for line in dump.read_text().splitlines():
            if line.startswith("summary:"):
                return int(line.split()[1])
        raise RuntimeError("no summary line in the callgrind dump")

    def close(self) -> None:
        self.conn.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def child_env(src: Path, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = str(src)
    return env


CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """user + system seconds of a live process (its own threads; /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu(conn: redis.Redis) -> float:
    info: dict[str, Any] = conn.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def commandstats(conn: redis.Redis) -> dict[str, tuple[int, int]]:
    info: dict[str, Any] = conn.info("commandstats")
    return {k.removeprefix("cmdstat_"): (v["calls"], v["usec"]) for k, v in info.items()}


SCRIPT_CLIENT = "?:0"  # the slowlog's client address of commands a script ran


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def function_name(args: list[str]) -> str:
    """'claim' for FCALL cq_<digest>_claim ...; else the command's name."""
    name = args[0].lower()
    if name == "fcall" and len(args) > 1:
        parts = args[1].split("_", 2)
        return "fcall " + (parts[2] if len(parts) == 3 else args[1])
    if name in {"config", "client", "slowlog", "function"} and len(args) > 1:
        return f"{name} {args[1].lower()}"
    return name


def one_pass(
    server: Server, src: Path, jobs: int, procs: int, env: dict[str, str], *, keep: str = ""
) -> dict[str, Any]:
    """One drain of `jobs` jobs by `procs` worker processes (0: the replay child)."""
    conn, url = server.conn, server.url
    conn.flushall()
    subprocess.run(
        [sys.executable, str(CHILD), "enqueue", url, str(jobs)], env=child_env(src, env), check=True
    )
    # Under callgrind every command takes over 20 us: the log would take them all, and
    # its own work would be counted. No split by function there.
    conn.config_set("slowlog-log-slower-than", -1 if server.callgrind else SLOWLOG_US)
    conn.slowlog_reset()
    conn.config_resetstat()
    mem0 = int(conn.info("memory")["used_memory"])
    cpu0 = cpu(conn)
    server.zero()
    started = time.perf_counter()
    command = [sys.executable, str(CHILD), "worker", url]
    if procs == 0:
        command = [sys.executable, str(CHILD), "replay", url, str(REPLAY_BATCH)]
    workers = [
        subprocess.Popen(
            command, env=child_env(src, env), stdout=subprocess.DEVNULL, start_new_session=True
        )
        for _ in range(max(1, procs))
    ]
    polls = 0
    try:
        deadline = time.monotonic() + (3000 if server.callgrind else 300)
        first: tuple[int, float] | None = None  # (jobs done, worker CPU) at the first poll with any
        while (done := int(conn.hget(STATS_KEY, "succeeded") or 0)) < jobs:  # type: ignore[arg-type]
            if first is None and done > 0:
                first = (done, sum(process_cpu(w.pid) for w in workers if w.poll() is None))
            polls += 1
            if time.monotonic() > deadline or any(w.poll() not in (None, 0) for w in workers):
                raise RuntimeError("workers did not drain the queue")
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        cpu1 = cpu(conn)
        worker_cpu = sum(process_cpu(w.pid) for w in workers if w.poll() is None)
        # Per job while jobs ran: from the first poll that saw one done (start-up excluded).
        steady = (worker_cpu - first[1]) / (jobs - first[0]) if first and first[0] < jobs else 0.0
        ir = server.instructions(keep)
        stats = commandstats(conn)
        mem1 = int(conn.info("memory")["used_memory"])
        log = conn.slowlog_get(-1)
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait(timeout=60)
    calls = {k: v[0] for k, v in stats.items() if k not in OWN}
    usec = {k: v[1] for k, v in stats.items() if k not in OWN}
    if "hget" in stats:  # the worker's own HGETs (in scripts mostly) minus the polls
        calls["hget"] = stats["hget"][0] - polls - 1
        usec["hget"] = stats["hget"][1]  # polls' usec ~1 each: not worth separating
    out: dict[str, Any] = {
        "seconds": seconds,
        "rate": jobs / seconds,
        "redis_cpu_us_per_job": (cpu1 - cpu0) * 1e6 / jobs,
        "instructions_per_job": ir / jobs,
        "worker_cpu_us_per_job": worker_cpu * 1e6 / jobs,
        "worker_cpu_us_per_job_steady": steady * 1e6,
        "mem_before": mem0,
        "mem_drained": mem1,
        "calls_per_job": {k: c / jobs for k, c in sorted(calls.items())},
        "usec_per_job": {k: u / jobs for k, u in sorted(usec.items())},
    }
    top: dict[str, list[float]] = {}
    for entry in log:
        if _text(entry["client_address"]) == SCRIPT_CLIENT:
            continue  # a command run inside a script: its time is in the FCALL's
        name = function_name(_text(entry["command"]).split())
        if name.replace(" ", "|") in OWN:
            continue
        row = top.setdefault(name, [0, 0])
        row[0] += 1
        row[1] += entry["duration"]
    logged = sum(u for name, (_, u) in top.items() if name.startswith("fcall "))
    out["fcall_logged_share"] = logged / max(1, usec.get("fcall", 0))
    out["top_level"] = {
        k: {"calls_per_job": c / jobs, "usec_per_job": u / jobs, "usec_per_call": u / c}
        for k, (c, u) in sorted(top.items(), key=lambda kv: -kv[1][1])
    }
    return out


def med(rows: list[dict[str, Any]], *path: str) -> float:
    """The median over rounds of a nested figure (0 where a round lacks it)."""
    values = []
    for row in rows:
        value: Any = row
        for key in path:
            value = value.get(key, {}) if isinstance(value, dict) else 0
        values.append(float(value) if isinstance(value, (int, float)) else 0.0)
    return statistics.median(values)


def summary(label: str, procs: int, rows: list[dict[str, Any]]) -> str:
    how = (
        f"{procs} worker process(es)"
        if procs
        else f"replay (claim + complete, {REPLAY_BATCH} a call)"
    )
    lines = [f"== {label}, {how}, {len(rows)} round(s) (medians)"]
    if med(rows, "instructions_per_job"):
        lines.append(
            f"  Redis instructions (callgrind) {med(rows, 'instructions_per_job'):,.0f} per job"
        )
    lines.append(
        f"  Redis CPU {med(rows, 'redis_cpu_us_per_job'):.1f} us/job"
        f"  (commandstats FCALL {med(rows, 'usec_per_job', 'fcall'):.1f} us/job)"
        f"  worker CPU {med(rows, 'worker_cpu_us_per_job_steady'):.1f} us/job"
        f" ({med(rows, 'worker_cpu_us_per_job'):.1f} with start-up)"
        f"  wall {med(rows, 'rate'):,.0f} jobs/s (start-up included)"
        f"  used_memory {med(rows, 'mem_before') / 2**20:.2f} -> "
        f"{med(rows, 'mem_drained') / 2**20:.2f} MiB"
    )
    nested = rows[0]["calls_per_job"]
    names = sorted((k for k in nested if nested[k] >= 0.005), key=lambda k: -nested[k])
    total_calls = sum(med(rows, "calls_per_job", k) for k in names if k != "fcall")
    lines.append(f"  commands per job, inside scripts too (calls/us), {total_calls:.2f} in all:")
    lines.append(
        "    "
        + ", ".join(
            f"{k} {med(rows, 'calls_per_job', k):.2f}/{med(rows, 'usec_per_job', k):.2f}"
            for k in names
        )
    )
    share = med(rows, "fcall_logged_share")
    lines.append(
        f"  top-level commands over {SLOWLOG_US} us (slowlog; {share:.0%} of FCALL time):"
        " calls/job, us/job, us/call"
    )
    for name in rows[0]["top_level"]:
        per_job = med(rows, "top_level", name, "usec_per_job")
        if per_job >= 0.01:
            lines.append(
                f"    {name:24} {med(rows, 'top_level', name, 'calls_per_job'):8.4f}"
                f" {per_job:7.2f} {med(rows, 'top_level', name, 'usec_per_call'):8.1f}"
            )
    return "\n".join(lines)


def parse_variant(text: str) -> tuple[str, Path, dict[str, str]]:
    """'LABEL=SRC[,KEY=VALUE...]': SRC '.' (this tree), a src folder, or a git ref."""
    label, _, rest = text.partition("=")
    where, *pairs = rest.split(",")
    env = dict(pair.split("=", 1) for pair in pairs)
    if where in ("", "."):
        return label, ROOT / "src", env
    if Path(where).is_dir():
        return label, Path(where).resolve(), env
    return label, baseline_src(where)[1], env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument(
        "--procs", default="replay,1,2", help="worker process counts; 'replay': the job path alone"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="0fdff18", help="git ref ('' for none)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="more runs: LABEL=SRC[,ENV=VALUE...] (SRC '.', a src folder or a git ref)",
    )
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="run the server under valgrind --tool=callgrind: instructions per job (slow: use --jobs 5000)",
    )
    parser.add_argument("--keep-dumps", default="", help="with --callgrind: copy each dump there")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    trees: list[tuple[str, Path, dict[str, str]]] = [("this tree", ROOT / "src", {})]
    if args.baseline:
        sha, tree = baseline_src(args.baseline)
        trees.append((f"chronoq@{sha[:7]}", tree, {}))
    trees += [parse_variant(v) for v in args.variant]
    folder = Path(tempfile.mkdtemp(prefix="cq-rcost-"))
    server = Server(7400 + os.getpid() % 500, folder, args.callgrind)
    results: dict[str, Any] = {
        "jobs": args.jobs,
        "rounds": args.rounds,
        "callgrind": args.callgrind,
        "runs": {},
    }
    try:
        for procs in (0 if p == "replay" else int(p) for p in args.procs.split(",")):
            rows: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in trees}
            for _ in range(args.rounds):  # interleaved: a busy spell hits every tree alike
                for label, src, env in trees:
                    keep = ""
                    if args.keep_dumps:
                        name = f"cg.{label.replace(' ', '_').replace('@', '_')}.p{procs}.{len(rows[label])}"
                        keep = str(Path(args.keep_dumps, name))
                    rows[label].append(one_pass(server, src, args.jobs, procs, env, keep=keep))
            for label, src, env in trees:
                print(summary(label, procs, rows[label]), flush=True)
                results["runs"][f"{label} {'replay' if procs == 0 else f'P={procs}'}"] = {
                    "src": str(src),
                    "env": env,
                    "rounds": rows[label],
                }
    finally:
        server.close()
        shutil.rmtree(folder, ignore_errors=True)
    Path(args.out, "results.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
