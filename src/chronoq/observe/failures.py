"""Failure groups (read model) and the dead-letter queue's processing by class.

A group is one fingerprint (task, exception type, masked message; see
`chronoq.core.failures`): how many failed attempts, first and last seen, the
accounts affected, how many of its jobs are dead now, and whether an operator
marked it handled (`resolve`; a failure after that reopens it). Groups are kept per
queue (one hash slot each) and merged here by fingerprint.

`process_dlq` requeues the dead jobs of groups whose class is recoverable
(network, timeout, rate_limited unless told otherwise) and leaves the rest,
reporting both by class; dead jobs with no group (worker lost, a bad record) are
left as `unclassified`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chronoq.core.errors import ConfigurationError, InvalidJobState, JobNotFound
from chronoq.core.failures import FINGERPRINT, RECOVERABLE, ErrorClass
from chronoq.core.job import from_millis
from chronoq.redis.backend import Backend
from chronoq.redis.history import ACCOUNTS_SHOWN, GroupRecord

UNCLASSIFIED = "unclassified"
_REQUEUE_BATCH = 1000


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _ms(text: str | None) -> int | None:
    return int(text) if text and text.lstrip("-").isdigit() else None


@dataclass(frozen=True, slots=True)
class FailureGroup:
    fingerprint: str
    task: str
    error_class: str
    title: str
    count: int  # failed attempts recorded
    dead: int  # of its jobs in the dead-letter queue now
    first_seen: datetime | None
    last_seen: datetime | None
    accounts: list[str]  # most recently affected first (at most ACCOUNTS_SHOWN per queue)
    account_count: int
    queues: list[str]
    resolved_at: datetime | None = None
    note: str | None = None

    @property
    def state(self) -> str:
        """'resolved' until it fails again after the resolution, else 'open'."""
        if self.resolved_at is not None and (
            self.last_seen is None or self.last_seen <= self.resolved_at
        ):
            return "resolved"
        return "open"

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "task": self.task,
            "error_class": self.error_class,
            "title": self.title,
            "count": self.count,
            "dead": self.dead,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "accounts": self.accounts,
            "account_count": self.account_count,
            "queues": self.queues,
            "state": self.state,
            "resolved_at": _iso(self.resolved_at),
            "note": self.note,
        }


def _merge(records: list[GroupRecord]) -> FailureGroup:
    """One group from its per-queue records."""
    first = [m for r in records if (m := _ms(r.fields.get("first"))) is not None]
    last = [m for r in records if (m := _ms(r.fields.get("last"))) is not None]
    resolved = [_ms(r.fields.get("resolved")) for r in records]
    latest = max(records, key=lambda r: _ms(r.fields.get("last")) or 0)
    accounts: list[str] = []
    for r in records:
        accounts += [a for a in r.accounts if a not in accounts]
    when_resolved = None if any(m is None for m in resolved) else min(m for m in resolved if m)
    return FailureGroup(
        fingerprint=records[0].fingerprint,
        task=latest.fields.get("task", ""),
        error_class=latest.fields.get("cls", ErrorClass.APPLICATION.value),
        title=latest.fields.get("title", ""),
        count=sum(_ms(r.fields.get("count")) or 0 for r in records),
        dead=sum(r.dead for r in records),
        first_seen=from_millis(min(first)) if first else None,
        last_seen=from_millis(max(last)) if last else None,
        accounts=accounts[:ACCOUNTS_SHOWN],
        account_count=max(len(accounts), sum(r.account_count for r in records)),
        queues=sorted(r.queue for r in records),
        resolved_at=from_millis(when_resolved),
        note=latest.fields.get("note") or None,
    )


def check_fingerprint(text: str) -> str:
    if not FINGERPRINT.match(text):
        raise ConfigurationError(f"{text!r} is not a failure group (16 hex digits, as listed)")
    return text


class FailureGroups:
    """`await FailureGroups(backend).list()`: groups, the latest failing first."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.history = backend.history

    async def _queues(self, queue: str | None) -> list[str]:
        return [queue] if queue else await self.backend.inspector.queues()

    async def records(self, queue: str | None = None) -> list[GroupRecord]:
        out: list[GroupRecord] = []
        for name in await self._queues(queue):
            out += await self.history.groups(name, await self.history.group_ids(name))
        return out

    async def list(
        self, *, queue: str | None = None, task: str | None = None, include_resolved: bool = True
    ) -> list[FailureGroup]:
        by_fp: dict[str, list[GroupRecord]] = {}
        for record in await self.records(queue):
            by_fp.setdefault(record.fingerprint, []).append(record)
        groups = [_merge(records) for records in by_fp.values()]
        groups = [g for g in groups if task is None or g.task == task]
        if not include_resolved:
            groups = [g for g in groups if g.state == "open"]
        return sorted(groups, key=lambda g: (g.last_seen is not None, g.last_seen), reverse=True)

    async def resolve_group(
        self, fingerprint: str, note: str = "", queue: str | None = None
    ) -> int:
        """Mark the group handled in every queue holding it. Returns how many."""
        check_fingerprint(fingerprint)
        done = 0
        for name in await self._queues(queue):
            if await self.history.resolve(name, "group", fingerprint, note):
                done += 1
        if not done:
            raise JobNotFound(f"no failure group {fingerprint!r}")
        return done

    async def resolve_job(self, job_id: str, note: str = "", queue: str | None = None) -> None:
        """Mark one dead job handled."""
        name = await self.backend.inspector.find_queue(job_id, queue)
        reply = await self.history.resolve(name, "job", job_id, note)
        if not reply:
            raise JobNotFound(f"no job with id {job_id!r}")
        if isinstance(reply, str) and not reply.lstrip("-").isdigit():
            raise InvalidJobState(f"job {job_id} is {reply}, not dead")


@dataclass(slots=True)
class DlqReport:
    """What `process_dlq` did (or, dry, would do), by error class."""

    requeued: Counter[str] = field(default_factory=Counter)
    left: Counter[str] = field(default_factory=Counter)
    recoverable: list[str] = field(default_factory=list)
    dry_run: bool = False
    groups: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requeued": sum(self.requeued.values()),
            "left": sum(self.left.values()),
            "requeued_by_class": dict(self.requeued),
            "left_by_class": dict(self.left),
            "recoverable": self.recoverable,
            "dry_run": self.dry_run,
            "groups": self.groups,
        }

    def summary(self) -> str:
        """'requeued 3 dead job(s) (network 2, timeout 1); left 2 (parse 1, ...)'."""

        def parts(counts: Counter[str]) -> str:
            inner = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()) if n)
            return f" ({inner})" if inner else ""

        verb = "would requeue" if self.dry_run else "requeued"
        n, m = sum(self.requeued.values()), sum(self.left.values())
        return f"{verb} {n} dead job(s){parts(self.requeued)}; left {m}{parts(self.left)}"


async def process_dlq(
    backend: Backend,
    *,
    recoverable: Iterable[ErrorClass | str] = RECOVERABLE,
    queue: str | None = None,
    dry_run: bool = False,
) -> DlqReport:
    """Requeue the dead jobs whose failure class is recoverable; leave the rest."""
    classes = sorted({ErrorClass.parse(c).value for c in recoverable})
    report = DlqReport(recoverable=classes, dry_run=dry_run)
    history = backend.history
    names = [queue] if queue else await backend.inspector.queues()
    for name in names:
        records = await history.groups(name, await history.group_ids(name))
        grouped = 0
        for record in records:
            cls = record.fields.get("cls", ErrorClass.APPLICATION.value)
            grouped += record.dead
            if cls not in classes:
                report.left[cls] += record.dead
                continue
            moved = record.dead if dry_run else await _requeue_group(backend, name, record)
            report.requeued[cls] += moved
            if record.dead:
                report.groups.append({"queue": name, "fingerprint": record.fingerprint,
                                      "error_class": cls, "title": record.fields.get("title", ""),
                                      "requeued": moved})  # fmt: skip
        (total,) = await history.sizes([backend.keys.queue(name).dead])
        if total > grouped:
            report.left[UNCLASSIFIED] += total - grouped
    return report


async def _requeue_group(backend: Backend, queue: str, record: GroupRecord) -> int:
    moved = 0
    while True:
        ids = await backend.history.group_dead(queue, record.fingerprint, 0, _REQUEUE_BATCH)
        if not ids:
            return moved
        done = await backend.broker.requeue_dead_ids(queue, ids)
        moved += done
        if done == 0:  # ids left in the index but no longer dead: nothing more to move
            return moved
