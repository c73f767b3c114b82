"""Noise indicators recorded beside every run: the Redis round trip just before it, and
the CPU that processes other than the run's own used during it.

Own CPU is exact, not sampled: the harness makes itself a child subreaper (Linux
PR_SET_CHILD_SUBREAPER), so every process a run starts - the runner, its workers, their
children, even orphans whose parent was killed - ends up reaped inside the harness's
tree, and its user+sys time lands in the harness's RUSAGE_CHILDREN. A run's own CPU =
the delta of RUSAGE_CHILDREN + the harness's own CPU + the bench's Cluster nodes'.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import time
from dataclasses import dataclass

from harness.resp import Resp

CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36


def ping_stats(host: str = "127.0.0.1", port: int = 6379, count: int = 200) -> dict[str, float]:
    """p50/p99 of `count` PINGs, one at a time, over a fresh connection."""
    try:
        with Resp(host, port) as conn:
            conn.command("PING")  # the handshake is not a round trip we want
            samples = []
            for _ in range(count):
                t0 = time.perf_counter()
                conn.command("PING")
                samples.append(time.perf_counter() - t0)
    except OSError as exc:
        return {"ping_error": str(exc)}  # type: ignore[dict-item]
    samples.sort()
    return {
        "ping_p50_ms": round(samples[int(0.5 * (count - 1))] * 1000, 4),
        "ping_p99_ms": round(samples[int(0.99 * (count - 1))] * 1000, 4),
    }


def become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except OSError:
        return False


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode()
    except OSError:
        return None
    return data[data.rindex(")") + 2 :].split()


def pid_cpu(pid: int) -> float:
    """utime + stime of one live process, seconds (0 if it is gone)."""
    fields = _stat_fields(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / CLK_TCK


def find_server_pid(port: int = 6379) -> int | None:
    """The redis-server (or valkey-server) whose title names this port."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "-server" in cmd and any(t.endswith(f":{port}") for t in cmd.split()):
            return int(entry)
    return None


def _machine_ticks() -> tuple[int, int, int]:
    """(busy, total, steal) ticks of all CPUs from /proc/stat's first line."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return user + nice + system + irq + softirq + steal, sum(values), steal


def _own_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = os.times()
    return children.ru_utime + children.ru_stime + me.user + me.system


def reap_orphans(keep: set[int]) -> None:
    """Kill and reap processes re-parented to the harness (their parent died first),
    except `keep` (the Cluster nodes). Their CPU then counts as the run's own."""
    me = os.getpid()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        orphans = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in keep:
                fields = _stat_fields(int(entry))
                if fields is not None and int(fields[1]) == me:
                    orphans.append(int(entry))
        if not orphans:
            return
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)


@dataclass
class CpuWindow:
    """CPU accounting over one run: call `start()` just before it, `stop()` after the
    runner was reaped."""

    server_pid: int | None
    own_pids: tuple[int, ...] = ()  # long-lived processes of the bench (Cluster nodes)

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.ticks0 = _machine_ticks()
        self.own0 = _own_seconds() + sum(pid_cpu(p) for p in self.own_pids)
        self.server0 = pid_cpu(self.server_pid) if self.server_pid else 0.0

    def stop(self) -> dict[str, float]:
        reap_orphans(set(self.own_pids))
        busy1, total1, steal1 = _machine_ticks()
        busy0, total0, steal0 = self.ticks0
        own = _own_seconds() + sum(pid_cpu(p) for p in self.own_pids) - self.own0
        server = (pid_cpu(self.server_pid) if self.server_pid else 0.0) - self.server0
        total_s = max((total1 - total0) / CLK_TCK, 1e-9)
        busy_s = (busy1 - busy0) / CLK_TCK
        return {
            "other_cpu": round(max(busy_s - own - server, 0.0) / total_s, 4),
            "redis_cpu": round(server / total_s, 4),
            "own_cpu": round(own / total_s, 4),
            "steal": round((steal1 - steal0) / CLK_TCK / total_s, 4),
            "window_s": round(time.monotonic() - self.t0, 2),
        }
