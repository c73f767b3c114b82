"""Job search: finished and dead jobs by task, status, queue, account, error group,
time window and error text, newest first, in pages with an opaque cursor.

How a query stays O(log N + page) at any history size: the outcome scripts write
each job, once, into sorted sets by time: its final state's own index
(`QueueKeys.finished`: done, done:<status>, dead), and per task and account, dead
and finished apart (`QueueKeys.index_prefix`). A query walks, per queue and per
family (dead, finished), the *smallest* index its filters name (ZCARD, O(1)), by
time with ZRANGE BYSCORE REV LIMIT, and checks the other filters per id with one
HMGET each, pipelined. Per-combination indexes would make every write pay for
every combination; this keeps a write at two or three ZADDs. Queues and families
merge by (time, id), so the cursor (the last position returned, with the filters'
digest and the resolved window) resumes at any depth without duplicates or gaps.
A page is bounded in work and in time: it examines at most `budget` ids and stops
examining once `seconds` (PAGE_SECONDS, 60 ms) have passed since it began, after
at least one batch (so every page moves on): a filter that matches little or
nothing (an error text no job has) returns a short or empty page with a cursor
rather than a slow one, whatever the machine's speed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from chronoq.core.errors import ConfigurationError
from chronoq.core.job import Field, Job, JobStatus
from chronoq.observe.job_query import Cursor, JobFilter, JobPage, parse_moment
from chronoq.redis.backend import Backend
from chronoq.redis.history import Entry, RangeRead
from chronoq.redis.keys import QueueKeys

__all__ = ["PAGE_MAX", "JobFilter", "JobPage", "JobSearch", "is_exact", "parse_moment"]

PAGE_MAX = 1000
BUDGET = 20_000  # ids one page may examine
PAGE_SECONDS = 0.06  # ... and how long it may spend examining them
FETCH = 256  # entries read per index per round trip
INDEX_FETCH = 1024  # ... when the indexes answer the filter (no record read per id)
CHECK_MIN = 16  # fewest ids checked per round trip (see _check_size)
ID_PAGE = 5000  # ids per round trip when an index answers a filter alone (indexed_ids)
_CHECKED = (Field.STATUS, Field.TASK, Field.ACCOUNT, Field.ERROR, Field.ERROR_GROUP)
_FINISHED = tuple(s for s in JobStatus if s.is_finished)
_FINISHED_ALIVE = frozenset(s.value for s in _FINISHED if s is not JobStatus.DEAD)


@dataclass(eq=False)
class _Source:
    """One index of one queue, read newest first below `upper` (score, id)."""

    queue: str
    key: str
    family: str  # 'd' dead, 'f' finished
    upper: Entry | None
    buffer: deque[Entry] = field(default_factory=deque)
    exhausted: bool = False
    fetch: int = FETCH  # entries per read


class JobSearch:
    """`await JobSearch(backend).search(JobFilter(task="t", status=JobStatus.DEAD))`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.history = backend.history

    async def search(
        self,
        where: JobFilter,
        *,
        limit: int = 50,
        cursor: str | None = None,
        budget: int = BUDGET,
        seconds: float = PAGE_SECONDS,
    ) -> JobPage:
        found, next_cursor, examined = await self.matching(
            where, limit=limit, cursor=cursor, budget=budget, seconds=seconds
        )
        jobs = await self._jobs(found)
        if _index_answered(where):  # the records were not read to check them
            jobs = [job for job in jobs if job.status is JobStatus.DEAD]
        return JobPage(jobs, next_cursor, examined, where.to_dict())

    async def matching(
        self,
        where: JobFilter,
        *,
        limit: int = 50,
        cursor: str | None = None,
        budget: int = BUDGET,
        seconds: float = PAGE_SECONDS,
    ) -> tuple[list[tuple[str, str]], str | None, int]:
        """The (queue, id) of the matches, without reading their records, with the
        next cursor and the ids examined: what a bulk operation captures. A filter
        the dead indexes answer (dead jobs, no text, no negation) is checked against
        them (kept exact by the scripts), one command per index and batch; any
        other has each id's fields read and checked."""
        deadline = time.monotonic() + seconds
        if not 1 <= limit <= PAGE_MAX:
            raise ConfigurationError(f"limit must be within 1..{PAGE_MAX}, got {limit}")
        digest = where.digest()
        if cursor:
            at = Cursor.decode(cursor, digest)
            low, high, upper = at.low, at.high, (at.score, at.id)
        else:
            low = _ms(where.since)
            high = _ms(where.until)
            upper = None
        sources = await self._sources(where, upper, _fetch_size(where, limit))
        found: list[tuple[str, str]] = []
        examined, last = 0, upper
        by_index = _index_answered(where)
        most, exact = (INDEX_FETCH if by_index else FETCH), is_exact(where)
        while len(found) < limit and examined < budget:
            if examined and time.monotonic() >= deadline:
                break  # the page's time is up: return it with a cursor
            await self._refill(sources, low, high)
            missing = limit - len(found)
            size = missing if exact else _check_size(missing, len(found), examined, most)
            batch = _merge(sources, min(size, budget - examined))
            if not batch:
                last = None  # every index is read to its end
                break
            check = self._in_indexes if by_index else self._in_records
            for (source, entry), ok in zip(batch, await check(where, batch), strict=True):
                examined += 1
                last = entry
                if ok:
                    found.append((source.queue, entry[1]))
                    if len(found) == limit:
                        break
            else:
                continue
            break
        next_cursor = None
        if last is not None:
            next_cursor = Cursor(last[0], last[1], low, high, digest).encode()
        return found, next_cursor, examined

    async def count(self, where: JobFilter, *, most: int = 100_000) -> tuple[int, bool]:
        """How many jobs match, counted up to `most` (a bulk action's dry run);
        True with it: there may be more. A filter of state and queue alone is
        the indexes' sizes (O(1)); others page through the search."""
        plain = JobFilter(status=where.status, queue=where.queue)
        if where == plain:
            sources = await self._sources(where, None, FETCH)
            sizes = await self.history.sizes([s.key for s in sources])
            return sum(sizes), False
        total, cursor = 0, None
        while total < most:
            found = await self.search(where, limit=PAGE_MAX, cursor=cursor)
            total += len(found.jobs)
            if found.next_cursor is None:
                return total, False
            cursor = found.next_cursor
        return total, True

    async def _in_records(self, where: JobFilter, batch: list[tuple[_Source, Entry]]) -> list[bool]:
        """Each id's fields read (one HMGET each) and checked against every filter."""
        records = await self.history.fields([(s.queue, e[1]) for s, e in batch], _CHECKED)
        return [
            _matches(where, source.family, record)
            for (source, _), record in zip(batch, records, strict=True)
        ]

    async def _in_indexes(self, where: JobFilter, batch: list[tuple[_Source, Entry]]) -> list[bool]:
        """A filter the dead indexes answer (`_index_answered`): each id is in every
        named index besides the one it was read from (one ZMSCORE per queue and
        index, however many ids); none besides it: nothing to read."""
        checks: list[tuple[str, list[str]]] = []
        owners: list[list[int]] = []  # per check: the positions in the batch it covers
        by_key: dict[tuple[str, str], list[int]] = {}
        for at, (source, _) in enumerate(batch):
            by_key.setdefault((source.queue, source.key), []).append(at)
        for (queue, key), positions in by_key.items():
            ids = [batch[i][1][1] for i in positions]
            for other in _named_indexes(self.backend.keys.queue(queue), where):
                if other != key:
                    checks.append((other, ids))
                    owners.append(positions)
        keep = [True] * len(batch)
        if checks:
            replies = await self.history.memberships(checks)
            for positions, reply in zip(owners, replies, strict=True):
                for i, present in zip(positions, reply, strict=True):
                    keep[i] = keep[i] and present
        return keep

    async def indexed_ids(
        self, where: JobFilter, *, page: int = ID_PAGE
    ) -> AsyncIterator[tuple[str, list[str]]]:
        """For a filter one index answers alone (`exact_index`): per queue, pages of
        its matching ids, newest first, read straight from that index (ZRANGE BYSCORE
        in pages, in the queue's slot) without reading a record: the dead indexes are
        kept exact by the scripts (requeue, purge and trim take entries out). What a
        bulk operation captures over a million dead jobs in seconds, not minutes."""
        if not is_exact(where):
            raise ConfigurationError("this filter needs the records checked: use matching()")
        names = [where.queue] if where.queue else await self.backend.inspector.queues()
        low, high = _ms(where.since), _ms(where.until)
        for name in names:
            source = _Source(name, exact_index(self.backend.keys.queue(name), where), "d", None)
            while True:
                entries = await self._id_page(source, low, high, page)
                if not entries:
                    break
                source.upper = entries[-1]
                yield name, [job_id for _, job_id in entries]

    async def _id_page(
        self, source: _Source, low: float | None, high: float | None, page: int
    ) -> list[Entry]:
        """The next entries below the source's position (ties at it skipped by id)."""
        offset = 0
        while True:
            read = _read(source, low, high, offset)
            (reply,) = await self.history.ranges([replace(read, count=page)])
            kept = [e for e in reply if not _at_or_above(e, source.upper)]
            if kept or len(reply) < page:
                return kept
            offset += page  # a full page of ties above the position: look further

    async def _sources(self, where: JobFilter, upper: Entry | None, fetch: int) -> list[_Source]:
        """Per queue and family, the smallest index the filters name. The state's own
        index may be several (no status: every finished state's), read as one union."""
        names = [where.queue] if where.queue else await self.backend.inspector.queues()
        names = [n for n in names if n not in where.not_queues]
        candidates: list[tuple[str, str, list[list[str]]]] = []
        for name in names:
            q = self.backend.keys.queue(name)
            for family in _families(where):
                options = [_state_indexes(q, family, where)]
                if where.task is not None:
                    options.append([q.index(family, "t", where.task)])
                if where.account is not None:
                    options.append([q.index(family, "a", where.account)])
                if where.error_group is not None:
                    options.append([q.index("d", "g", where.error_group)])
                candidates.append((name, family, options))
        keys = [k for _, _, options in candidates for option in options for k in option]
        sizes = iter(await self.history.sizes(keys))
        sources: list[_Source] = []
        for name, family, options in candidates:
            sized = [[(key, next(sizes)) for key in option] for option in options]
            totals = [sum(n for _, n in option) for option in sized]
            if min(totals) > 0:  # every filter must hold: an empty index means none
                smallest = sized[totals.index(min(totals))]
                sources += [_Source(name, key, family, upper, fetch=fetch)
                            for key, n in smallest if n > 0]  # fmt: skip
        return sources

    async def _refill(self, sources: list[_Source], low: float | None, high: float | None) -> None:
        """Read the next entries of every source whose buffer ran dry."""
        while True:
            dry = [s for s in sources if not s.buffer and not s.exhausted]
            if not dry:
                return
            reads = [_read(s, low, high, 0) for s in dry]
            replies = await self.history.ranges(reads)
            for source, reply in zip(dry, replies, strict=True):
                kept = [e for e in reply if not _at_or_above(e, source.upper)]
                source.buffer.extend(kept)
                if len(reply) < source.fetch:
                    source.exhausted = True
                elif not kept:  # a full batch of ties above the position: look further
                    await self._skip_ties(source, low, high)

    async def _skip_ties(self, source: _Source, low: float | None, high: float | None) -> None:
        offset = source.fetch
        while not source.buffer and not source.exhausted:
            (reply,) = await self.history.ranges([_read(source, low, high, offset)])
            source.buffer.extend(e for e in reply if not _at_or_above(e, source.upper))
            source.exhausted = len(reply) < source.fetch
            offset += source.fetch

    async def _jobs(self, found: list[tuple[str, str]]) -> list[Job]:
        """Full records in the order found (one pipeline per queue)."""
        by_queue: dict[str, list[str]] = {}
        for queue, job_id in found:
            by_queue.setdefault(queue, []).append(job_id)
        read: dict[tuple[str, str], Job] = {}
        for queue, ids in by_queue.items():
            for job in await self.backend.inspector.get_jobs(queue, ids):
                read[(queue, job.id)] = job
        return [read[item] for item in found if item in read]


def is_exact(where: JobFilter) -> bool:
    """Whether one index answers `where` alone (`JobSearch.indexed_ids`): dead
    jobs with at most one of task, account, error group (and any queue and time
    window); no text and no negation, which only the records could tell."""
    named = [v for v in (where.task, where.account, where.error_group) if v is not None]
    return (
        where.status is JobStatus.DEAD
        and len(named) <= 1
        and not where.error_contains
        and not (where.not_tasks or where.not_statuses or where.not_queues)
        and not (where.not_accounts or where.not_error_contains)
    )


def _index_answered(where: JobFilter) -> bool:
    """Dead jobs, no text and no negation: the dead indexes (task, account, error
    group) answer every filter, without a record read."""
    return (
        where.status is JobStatus.DEAD
        and not where.error_contains
        and not (where.not_tasks or where.not_statuses or where.not_queues)
        and not (where.not_accounts or where.not_error_contains)
    )


def _named_indexes(q: QueueKeys, where: JobFilter) -> list[str]:
    """The dead indexes of queue `q` that `where`'s task, account and group name."""
    named = [("t", where.task), ("a", where.account), ("g", where.error_group)]
    return [q.index("d", kind, value) for kind, value in named if value is not None]


def exact_index(q: QueueKeys, where: JobFilter) -> str:
    """The one dead index of queue `q` holding exactly `where`'s matches."""
    if where.task is not None:
        return q.index("d", "t", where.task)
    if where.account is not None:
        return q.index("d", "a", where.account)
    if where.error_group is not None:
        return q.index("d", "g", where.error_group)
    return q.dead


def _fetch_size(where: JobFilter, limit: int) -> int:
    """Index entries read per source and round trip: an exact filter's page of
    entries (each one a match; a page of 50 read 50, not 1,024), INDEX_FETCH when
    the other indexes check them (cheap per id), else FETCH (records are read)."""
    if is_exact(where):
        return min(INDEX_FETCH, max(limit, CHECK_MIN))
    return INDEX_FETCH if _index_answered(where) else FETCH


def _check_size(missing: int, found: int, examined: int, most: int) -> int:
    """How many ids to check next: what the page still misses, divided by the share
    of checked ids that matched so far (none checked yet: all of them match), at
    most `most`. A page of 50 that every id matches checks 50 records, not 256; a
    sparse one goes to the most at its second round trip."""
    if examined == 0:
        return min(most, max(missing, CHECK_MIN))
    return min(most, max(CHECK_MIN, -(-missing * examined // max(found, 1))))


def _families(where: JobFilter) -> tuple[str, ...]:
    if where.status is JobStatus.DEAD or where.error_group is not None:
        return ("d",)
    if where.status is not None:
        return ("f",)
    alive_left = _FINISHED_ALIVE - {s.value for s in where.not_statuses}
    if JobStatus.DEAD in where.not_statuses:
        return ("f",) if alive_left else ()
    return ("d", "f") if alive_left else ("d",)


def _state_indexes(q: QueueKeys, family: str, where: JobFilter) -> list[str]:
    """The per-state indexes (`QueueKeys.finished`) of the family: dead, the status
    asked for, or every finished state's not excluded."""
    if family == "d":
        return [q.dead]
    if where.status is not None:
        return [q.finished(where.status.value)]
    excluded = {s.value for s in where.not_statuses}
    return [q.finished(state) for state in sorted(_FINISHED_ALIVE - excluded)]


def _ms(moment: datetime | None) -> float | None:
    return None if moment is None else float(int(moment.timestamp() * 1000))


def _read(source: _Source, low: float | None, high: float | None, offset: int) -> RangeRead:
    top = "+inf" if high is None else f"({high:.0f}"  # until: exclusive
    if source.upper is not None and (high is None or source.upper[0] < high):
        top = f"{source.upper[0]:.0f}"  # ties at the position are filtered by id
    bottom = "-inf" if low is None else f"{low:.0f}"
    return RangeRead(source.key, top, bottom, offset, source.fetch)


def _at_or_above(entry: Entry, upper: Entry | None) -> bool:
    """Whether `entry` comes at or before `upper` in (time, id) descending order."""
    return upper is not None and (
        entry[0] > upper[0] or (entry[0] == upper[0] and entry[1] >= upper[1])
    )


def _merge(sources: list[_Source], most: int) -> list[tuple[_Source, Entry]]:
    """The next entries in (time, id) descending order across sources, stopping
    where a source that may have more runs dry (it must be read before going on)."""
    out: list[tuple[_Source, Entry]] = []
    while len(out) < most:
        live = [s for s in sources if s.buffer]
        if not live or any(not s.buffer and not s.exhausted for s in sources):
            break
        best = max(live, key=lambda s: s.buffer[0])
        entry = best.buffer.popleft()
        best.upper = entry
        if out and out[-1][1] == entry:
            continue  # the same id in two sources cannot happen; be safe anyway
        out.append((best, entry))
    return out


def _matches(where: JobFilter, family: str, record: list[str | None]) -> bool:
    status, task, account, error, group = record
    if status is None:  # gone (expired, purged) since it was indexed
        return False
    in_family = status == JobStatus.DEAD if family == "d" else status in _FINISHED_ALIVE
    needle = where.error_contains
    text = (error or "").lower()
    return (
        in_family
        and (where.status is None or status == where.status)
        and (where.task is None or task == where.task)
        and (where.account is None or account == where.account)
        and (where.error_group is None or group == where.error_group)
        and (not needle or needle.lower() in text)
        and _excluded_none(where, status, task, account, text)
    )


def _excluded_none(
    where: JobFilter, status: str, task: str | None, account: str | None, text: str
) -> bool:
    return not (
        status in where.not_statuses
        or task in where.not_tasks
        or account in where.not_accounts
        or any(n.lower() in text for n in where.not_error_contains)
    )
