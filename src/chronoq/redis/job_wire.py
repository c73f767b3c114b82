"""The wire format of the broker's job scripts: the KEYS each script takes for one
queue (cached per queue: every claim and completion needs them), the packing of
enqueue's ARGV, and the decoding of claim replies and hand-off entries into
`ClaimedJob`s. Pure functions, shared by the async broker and the sync enqueuer.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from chronoq.core import serialization
from chronoq.core.claims import ClaimedJob, Enqueued, ExpiredJob, Placement
from chronoq.core.job import JobSpec, JobStatus
from chronoq.redis.keys import QueueKeys
from chronoq.redis.scripts import SCRIPTS, Script

_STATUS = {status.value: status for status in JobStatus}


def enqueue_command(
    q: QueueKeys, jobs: Sequence[tuple[JobSpec, Placement]], events_cap: int = 0
) -> tuple[Script, list[str], list[str | int]]:
    """The script, KEYS and ARGV that enqueue `jobs` (shared by the async broker and
    the sync enqueuer): enqueue_plain.lua for one plain job due now, the commonest
    enqueue, with flat arguments and the fewest commands; enqueue.lua otherwise."""
    if len(jobs) == 1 and _is_plain(*jobs[0]):
        spec = jobs[0][0]
        args: list[str | int] = [spec.id, spec.task, spec.payload, spec.options.priority]
        args.append(events_cap)
        args.extend(spec.extra_fields())
        return SCRIPTS.enqueue_plain, _plain_keys(q), args
    batch = serialization.dumps([_job_entry(spec, place) for spec, place in jobs])
    return SCRIPTS.enqueue, enqueue_keys(q), [batch, events_cap]


def _is_plain(spec: JobSpec, place: Placement) -> bool:
    opts = spec.options
    return (
        place.wire == ""
        and opts.unique_key is None
        and opts.idempotency_key is None
        and not opts.gates
        and opts.account is None
    )


@lru_cache(maxsize=256)
def _plain_key_tuple(q: QueueKeys) -> tuple[str, ...]:
    return (
        q.ready, q.seq, q.wake, q.job_prefix, q.active, q.idle, q.idle_leases,
        q.inbox_prefix, q.events,
    )  # fmt: skip


def _plain_keys(q: QueueKeys) -> list[str]:
    return list(_plain_key_tuple(q))


@lru_cache(maxsize=256)
def _enqueue_keys(q: QueueKeys) -> tuple[str, ...]:
    return (
        q.ready,
        q.scheduled,
        q.seq,
        q.wake,
        q.job_prefix,
        q.unique_prefix,
        q.active,
        q.idle,
        q.idle_leases,
        q.inbox_prefix,
        q.fair,
        q.events,
    )


def enqueue_keys(q: QueueKeys) -> list[str]:
    """KEYS of enqueue.lua for one queue (cached: every enqueue needs them)."""
    return list(_enqueue_keys(q))


def _job_entry(spec: JobSpec, place: Placement) -> list[Any]:
    entry: list[Any] = [
        spec.id,
        place.wire,
        spec.options.priority,
        spec.options.unique_key or "",
        spec.task,
        spec.payload,
        spec.extra_fields(),
    ]
    if spec.options.idempotency_key is not None:
        entry.append([spec.options.idempotency_key, int(spec.options.idempotency_ttl * 1000)])
    return entry


@lru_cache(maxsize=256)
def complete_keys(q: QueueKeys) -> tuple[str, ...]:
    """KEYS of complete.lua (cached, as the claim's: one call per batch of successes)."""
    return (
        q.active,
        q.done,
        q.job_prefix,
        q.result_prefix,
        q.unique_prefix,
        q.stats,
        q.ready,
        q.wake,
        *gate_keys(q),
        q.index_prefix,
        q.events,
    )


@lru_cache(maxsize=256)
def claim_keys(q: QueueKeys) -> list[str]:
    """KEYS of claim.lua (cached: a busy worker claims many times a second).
    Callers must not mutate the list."""
    return [
        q.ready,
        q.scheduled,
        q.active,
        q.seq,
        q.wake,
        q.job_prefix,
        q.done,
        q.unique_prefix,
        q.stats,
        q.idle,
        q.idle_leases,
        q.gate_prefix,
        q.parked_prefix,
        q.blocked,
        q.fair,
        q.dead,
        q.inbox_prefix,
        q.fence_prefix,
        q.index_prefix,
        q.events,
        q.paused,
    ]


ENTRY_SIZE = 15  # values per job in claim.lua's reply: run_entry in _lib.lua
_CLAIM_HEADER = 4


def claimed_jobs(queue: str, token: str, reply: list[Any]) -> list[ClaimedJob]:
    """The per-job part of claim.lua's reply: ENTRY_SIZE values per job after the
    header values.

    claim.lua checks every field it returns (whole numbers, reservations JSON) and
    dead-letters a bad record instead: nothing here can fail on a stored value. The
    arguments and options are decoded later, by `plan`, which never raises."""
    jobs = []
    for i in range(_CLAIM_HEADER, len(reply), ENTRY_SIZE):
        # Lua's numbers arrive as ints and its false as None; the times a run is only
        # told about arrive as stored (shown_ms).
        entry = reply[i : i + ENTRY_SIZE]
        (job_id, task, payload, attempts, max_retries, options, reservations, enqueued,
         run_at, started, schedule, due, account, fence, retry_base) = entry  # fmt: skip
        # Positional: a keyword costs about 0.05 us, 0.85 us a job at 17 of them (the
        # order is ClaimedJob's, checked by tests/redis/test_job_wire.py).
        jobs.append(
            ClaimedJob(
                job_id,
                queue,
                task,
                payload,
                attempts,
                max_retries,
                options,
                token,
                reservations,
                shown_ms(enqueued),
                shown_ms(run_at),
                started,
                schedule,
                shown_ms(due),
                account,
                fence,
                retry_base or 0,
            )
        )
    return jobs


def decode_entry(queue: str, token: str, v: Sequence[Any], i: int) -> ClaimedJob:
    """One run entry from `v[i:]` of a hand-off's JSON (absent values are false)."""
    return ClaimedJob(  # positional, in ClaimedJob's order (see claimed_jobs)
        v[i],
        queue,
        v[i + 1],
        v[i + 2],
        int(v[i + 3]),
        _opt_int(v[i + 4]),
        v[i + 5] or None,
        token,
        v[i + 6] or None,
        shown_ms(v[i + 7]),
        shown_ms(v[i + 8]),
        _opt_int(v[i + 9]),
        v[i + 10] or None,
        shown_ms(v[i + 11]),
        v[i + 12] or None,
        _opt_int(v[i + 13]),
        _opt_int(v[i + 14]) or 0,
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None or value is False else int(value)


_MS_DIGITS = 15  # at most: exact as a double, as _lib.lua's whole numbers


def shown_ms(value: Any) -> int | None:
    """A time a run is only told about (enqueued, run-at, schedule due), as the
    record stores it: a whole number of ms, or None when absent or not one (a bad
    one is dropped, never a reason to fail the job)."""
    if value is None or value is False:
        return None
    if type(value) is str and len(value) <= _MS_DIGITS and value.isdigit() and value.isascii():
        return int(value)  # the stored text of every record chronoq wrote
    if type(value) is int:
        return value
    text = value.decode() if isinstance(value, bytes) else str(value)
    digits = text[1:] if text.startswith("-") else text
    if 0 < len(digits) <= _MS_DIGITS and digits.isascii() and digits.isdigit():
        return int(text)
    return None


def expired_jobs(reply: Any) -> tuple[ExpiredJob, ...]:
    return tuple(
        ExpiredJob(reply[i], reply[i + 1], int(reply[i + 2])) for i in range(0, len(reply), 3)
    )


def gate_keys(q: QueueKeys) -> list[str]:
    """The gate keys scripts append: holders' SET prefix, parked LIST prefix, blocked."""
    return [q.gate_prefix, q.parked_prefix, q.blocked]


def parse_enqueued(reply: list[Any]) -> list[Enqueued]:
    return [
        Enqueued(reply[i], _STATUS[reply[i + 1]], bool(reply[i + 2]))
        for i in range(0, len(reply), 3)
    ]
