"""`chronoq report --hours N`: one read of how the deployment did, for people.

Built from the metrics window (`chronoq.observe.rollups`) and the operations window
(`chronoq.observe.ops`): success rate and throughput overall and per queue and
task, the slowest tasks (by p95 run time), schedule lateness (tasks made by
schedules: start - their run's due time; per schedule: due - enqueue, and runs
missed or skipped), the top failure groups seen in the window (by failures in
total; `chronoq dlq list --group`), the limit keys near their cap now (`NEAR_CAP`
of their budget used in the current period), per quota the accounts nearest their
cap over the window's local days (`chronoq.observe.quota_use`), and each limit's
grants and denials in the window, lock contention and losses, and the workers' memory and CPU.
`to_dict()` is `--json`; `chronoq.observe.report_html` renders the HTML file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chronoq.observe.failures import FailureGroup, FailureGroups
from chronoq.observe.ops import OpsWindow, ops_window
from chronoq.observe.quota_use import QuotaUse, quotas_use
from chronoq.observe.rollups import MetricsWindow, Rollup, window
from chronoq.redis.backend import Backend
from chronoq.redis.errors import REDIS_FAULTS

SLOWEST = 10
TOP_GROUPS = 10
NEAR_CAP = 0.8
TOP_ACCOUNTS = 5  # per quota, nearest their cap


@dataclass(frozen=True, slots=True)
class NearCap:
    limit: str
    kind: str
    key: str
    used: int
    cap: int

    @property
    def utilization(self) -> float:
        return self.used / self.cap if self.cap else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "kind": self.kind,
            "key": self.key,
            "used": self.used,
            "cap": self.cap,
            "utilization": round(self.utilization, 4),
        }


@dataclass(frozen=True, slots=True)
class Report:
    window: MetricsWindow
    slowest: list[Rollup]  # tasks by p95 run time, slowest first
    lateness: list[Rollup]  # tasks with scheduled runs, latest p95 first
    groups: list[FailureGroup]  # failing within the window, most failures first
    near_cap: list[NearCap]
    ops: OpsWindow  # schedules, limits, locks and worker processes over the window
    quotas: list[QuotaUse] = field(default_factory=list)  # use per account per day

    def to_dict(self) -> dict[str, Any]:
        w = self.window
        return {
            "hours": w.hours,
            "start": w.start.isoformat(),
            "end": w.end.isoformat(),
            "success_rate": w.success_rate,
            "throughput": w.throughput,
            "counts": w.counts,
            "wait": w.wait.to_dict(),
            "run": w.run.to_dict(),
            "tasks": [r.to_dict() for r in w.rows],
            "slowest_tasks": [_brief(r, "run") for r in self.slowest],
            "schedule_lateness": [_brief(r, "lateness") for r in self.lateness],
            "failure_groups": [g.to_dict() for g in self.groups],
            "limits_near_cap": [n.to_dict() for n in self.near_cap],
            "queues": w.to_dict()["queues"],
            "operations": self.ops.to_dict(),
            "quotas": [q.to_dict(TOP_ACCOUNTS) for q in self.quotas],
        }


def _brief(row: Rollup, which: str) -> dict[str, Any]:
    d = getattr(row, which)
    return {"queue": row.queue, "task": row.task, "count": d.count, "p50": d.p50,
            "p95": d.p95, "p99": d.p99}  # fmt: skip


async def build_report(backend: Backend, hours: float = 24, queue: str | None = None) -> Report:
    w = await window(backend, hours=hours, queue=queue)
    slowest = sorted((r for r in w.rows if r.run.count), key=lambda r: -(r.run.p95 or 0))
    late = sorted((r for r in w.rows if r.lateness.count), key=lambda r: -(r.lateness.p95 or 0))
    groups = await FailureGroups(backend).list(queue=queue)
    recent = [g for g in groups if g.last_seen is not None and g.last_seen >= w.start]
    recent.sort(key=lambda g: -g.count)
    ops = await ops_window(backend, hours, now_ms=int(w.end.timestamp() * 1000))
    near = await _near_cap(backend)
    quotas = await quotas_use(backend, days=max(1, math.ceil(hours / 24)))
    return Report(w, slowest[:SLOWEST], late[:SLOWEST], recent[:TOP_GROUPS], near, ops, quotas)


async def _near_cap(backend: Backend) -> list[NearCap]:
    """Limit keys with at least NEAR_CAP of their budget used (recently used keys
    of each limit); none when the limits cannot be read (a viewer may not)."""
    found: list[NearCap] = []
    try:
        for limit in await backend.limits.all():
            for usage in await backend.limits.usage(limit.name):
                if usage.utilization >= NEAR_CAP:
                    kind = limit.kind.value
                    found.append(NearCap(limit.name, kind, usage.key, usage.used, usage.limit))
    except REDIS_FAULTS:
        return []
    return sorted(found, key=lambda n: -n.utilization)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def seconds(value: float | None) -> str:
    """A duration for people: ms below a second."""
    if value is None:
        return "-"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} MB"


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


def report_text(report: Report) -> str:
    """The report as plain text (what `chronoq report` prints)."""
    w = report.window
    c = w.counts
    lines = [
        f"chronoq report: the last {w.hours:g} hour(s), {_when(w.start)} to {_when(w.end)}",
        f"success rate {percent(w.success_rate)}, throughput {w.throughput:.3f} jobs/s "
        f"({c['started']} attempts: {c['succeeded']} succeeded, {c['failed']} failed, "
        f"{c['retried']} retried, {c['dead']} dead, {c['cancelled']} cancelled, "
        f"{c['expired']} expired, {c['throttled']} throttled)",
        f"wait p50/p95/p99 {seconds(w.wait.p50)} / {seconds(w.wait.p95)} / {seconds(w.wait.p99)}"
        f"; run p50/p95/p99 {seconds(w.run.p50)} / {seconds(w.run.p95)} / {seconds(w.run.p99)}",
        "",
        "per queue and task:",
    ]
    lines += [
        f"  {r.queue} {r.task}: {percent(r.success_rate)} success, {r.throughput:.3f}/s, "
        f"{r.counts['started']} attempts, run p95 {seconds(r.run.p95)}"
        for r in w.rows
    ] or ["  (no jobs ran)"]
    lines += ["", "slowest tasks (run p50 / p95 / p99):"]
    lines += [
        f"  {r.task} ({r.queue}): {seconds(r.run.p50)} / {seconds(r.run.p95)} / "
        f"{seconds(r.run.p99)}"
        for r in report.slowest
    ] or ["  (none)"]
    lines += ["", "top failure groups (failures in total, last seen within the window):"]
    lines += [
        f"  {g.fingerprint} {g.task} [{g.error_class}] x{g.count} ({g.dead} dead now): {g.title}"
        for g in report.groups
    ] or ["  (none)"]
    lines += ["", "schedule lateness, due to start (p50 / p95 / p99):"]
    lines += [
        f"  {r.task} ({r.queue}): {seconds(r.lateness.p50)} / {seconds(r.lateness.p95)} / "
        f"{seconds(r.lateness.p99)} over {r.lateness.count} run(s)"
        for r in report.lateness
    ] or ["  (no scheduled runs)"]
    lines += ["", "schedules, due to enqueue (p50 / p95 / p99):"]
    lines += [
        f"  {s.schedule}: {seconds(e.p50)} / {seconds(e.p95)} / {seconds(e.p99)}; "
        f"{s.fired} fired, {s.missed} missed, {s.skipped} skipped"
        for s in report.ops.schedules
        for e in [s.enqueue_lateness]
    ] or ["  (no schedule fired)"]
    lines += ["", f"limits near their cap (from {NEAR_CAP:.0%} used):"]
    lines += [
        f"  {n.limit} key {n.key}: {n.used} of {n.cap} ({n.utilization:.0%})"
        for n in report.near_cap
    ] or ["  (none)"]
    lines += ["", "quotas: accounts nearest their cap (peak local day's use in the window):"]
    lines += [
        f"  {q.quota} ({q.cap}/{q.period}) account {a.account or '(all)'}: peak {a.peak} on"
        f" {a.peak_day} of {a.day_cap} a day ({a.peak_utilization:.0%}), {a.total} in all"
        for q in report.quotas
        for a in q.top(TOP_ACCOUNTS)
    ] or ["  (no quota use)"]
    lines += ["", "limit decisions in the window:"]
    lines += [
        f"  {x.limit}: {x.granted} granted, {x.denied} denied ({percent(x.denied_share)})"
        for x in report.ops.limits
    ] or ["  (none)"]
    lines += ["", "locks (per family):"]
    lines += [
        f"  {x.family}: {x.contended} contended, {x.timeout} timed out, {x.lost} lost"
        for x in report.ops.locks
    ] or ["  (no contention, none lost)"]
    lines += ["", "worker processes (per queue served):"]
    lines += [
        f"  {x.queue}: peak {_mb(x.rss_peak_mb)}, mean {_mb(x.rss_mean_mb)}, "
        f"{x.cpu_seconds:.1f} CPU s over {x.samples} sample(s)"
        for x in report.ops.workers
    ] or ["  (no samples)"]
    lines += ["", "queues now:"]
    lines += [
        f"  {q.queue}: {q.jobs['queued']} queued, {q.jobs['scheduled']} scheduled, "
        f"{q.jobs['running']} running, {q.jobs['dead']} dead; oldest waiting "
        f"{q.oldest_waiting_seconds:.1f} s"
        for q in w.queues
    ] or ["  (no queues)"]
    return "\n".join(lines) + "\n"
