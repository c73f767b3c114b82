"""Operations rollups: what the scheduler, the limits, the locks and the worker
processes count per minute (then hour, then day), beside the per-job rollups of
`chronoq.core.rollups`.

Pure: callers add to an `OpsBatch` in memory (a scheduler tick, a worker's rate-limit
decisions, a heartbeat's memory and CPU sample, one lock event) and
`chronoq.redis.ops` writes it in one script call per minute touched; never per job.

A value is the field `<kind>\t<subject>\t<name>` of a bucket HASH. Kinds, subjects
and names are fixed and bounded:

- `sched`, per schedule: fired, missed (a misfire policy dropped the run), skipped
  (overlap=skip), and the due-to-enqueue lateness histogram (`e0`.. +Inf, `es` sum ms);
- `limit`, per rate limit or quota name: granted, denied (said "later");
- `lock`, per lock family (the name up to its first ':', at most `FAMILY_CAP`):
  contended, timeout, lost;
- `worker`, per queue served: samples, cpu_ms (CPU time used), rss_max (peak bytes),
  rss_sum (for the mean).

Lifetime totals (for Prometheus and the lock_lost alert rule) are kept for the
counts marked `TOTALED`; `rss_max` is a maximum, not a sum (op `m`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from chronoq.core.rollups import BUCKETS_MS, MINUTE_MS, bucket_of

SEP = "\t"
KINDS = ("sched", "limit", "lock", "worker")
COUNT_NAMES: dict[str, tuple[str, ...]] = {
    "sched": ("fired", "missed", "skipped"),
    "limit": ("granted", "denied"),
    "lock": ("contended", "timeout", "lost"),
    "worker": ("samples", "cpu_ms", "rss_max", "rss_sum"),
}
TOTALED = frozenset({"sched", "limit", "lock"})  # kinds whose counts get lifetime totals
MAXIMA = frozenset({"rss_max"})
LATE = "e"  # the due-to-enqueue histogram of a schedule: e0..e<n> (+Inf), es (sum ms)
_HIST_WIDTH = len(BUCKETS_MS) + 1
FAMILY_CAP = 32  # lock families counted by name; the others count as OTHER
OTHER = "~other"
LOCK_EVENTS = COUNT_NAMES["lock"]

# A field's (op, value): 'a' adds to the buckets and the totals, 'b' to the buckets
# only, 'm' keeps the maximum in the buckets.
Op = str


def lock_family(name: str) -> str:
    """The family a lock name counts under: up to its first ':' ("report:2024-06"
    -> "report"). A family with a tab or newline, or over 64 characters, is OTHER."""
    family = name.split(":", 1)[0]
    if not family or len(family) > 64 or any(c in family for c in "\t\n\r"):
        return OTHER
    return family


@dataclass(slots=True)
class OpsBatch:
    """Values by (minute, kind, subject, name), to be written together."""

    values: dict[tuple[int, str, str, str], int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.values)

    def count(self, kind: str, subject: str, name: str, at_ms: int, n: int = 1) -> None:
        if n:
            key = (at_ms // MINUTE_MS, kind, subject, name)
            self.values[key] = self.values.get(key, 0) + n

    def peak(self, kind: str, subject: str, name: str, at_ms: int, value: int) -> None:
        key = (at_ms // MINUTE_MS, kind, subject, name)
        self.values[key] = max(self.values.get(key, 0), value)

    def observe_late(self, schedule: str, at_ms: int, ms: float) -> None:
        """One run's due-to-enqueue lateness (ms) into its schedule's histogram."""
        ms = max(0.0, ms)
        self.count("sched", schedule, f"{LATE}{bucket_of(ms)}", at_ms)
        self.count("sched", schedule, f"{LATE}s", at_ms, round(ms))

    def merge(self, other: OpsBatch) -> None:
        for key, value in other.values.items():
            if key[3] in MAXIMA:
                self.values[key] = max(self.values.get(key, 0), value)
            else:
                self.values[key] = self.values.get(key, 0) + value

    def by_minute(self) -> Iterator[tuple[int, list[tuple[str, Op, int]]]]:
        """(minute, [(field, op, value)]) per minute touched."""
        minutes: dict[int, list[tuple[str, Op, int]]] = {}
        for (minute, kind, subject, name), value in self.values.items():
            op = "m" if name in MAXIMA else "a" if kind in TOTALED and not _is_hist(name) else "b"
            minutes.setdefault(minute, []).append((field_of(kind, subject, name), op, value))
        yield from minutes.items()


def _is_hist(name: str) -> bool:
    return name.startswith(LATE) and name not in COUNT_NAMES["sched"]


def field_of(kind: str, subject: str, name: str) -> str:
    return f"{kind}{SEP}{subject}{SEP}{name}"


OpsCells = dict[str, dict[str, dict[str, int]]]  # kind -> subject -> name -> value


def parse(raw: Iterable[Mapping[str, str]]) -> OpsCells:
    """Sum bucket HASHes (as read; maxima kept as maxima) by kind, subject, name.
    Unknown kinds and names are left out (subjects stay what was written)."""
    cells: OpsCells = {}
    for fields in raw:
        for key, value in fields.items():
            parts = str(key).split(SEP)
            if len(parts) != 3 or parts[0] not in COUNT_NAMES:
                continue
            kind, subject, name = parts
            if name not in COUNT_NAMES[kind] and not (kind == "sched" and _is_hist(name)):
                continue
            try:
                n = int(value)
            except ValueError:
                continue
            names = cells.setdefault(kind, {}).setdefault(subject, {})
            names[name] = max(names.get(name, 0), n) if name in MAXIMA else names.get(name, 0) + n
    return cells


def late_buckets(names: Mapping[str, int]) -> tuple[list[int], int]:
    """A schedule's due-to-enqueue histogram: counts per bucket (the last +Inf), sum ms."""
    return [names.get(f"{LATE}{i}", 0) for i in range(_HIST_WIDTH)], names.get(f"{LATE}s", 0)
