"""Job search: each filter alone and together, cursor paging, the time window, and
index consistency with the records (requeue, purge, trimming)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import redis

from chronoq import Client, JobStatus
from chronoq.client import JobRequest
from chronoq.core.errors import ConfigurationError
from chronoq.core.retention import Keep
from chronoq.observe.search import FETCH, JobFilter, JobSearch, parse_moment
from tests.observe.history import run_jobs


async def ids_of(client: Client, where: JobFilter, limit: int = 1000) -> list[str]:
    page = await JobSearch(client.backend).search(where, limit=limit)
    return [job.id for job in page.jobs]


@pytest.fixture
async def history(client: Client) -> dict[str, set[str]]:
    made = {
        "a_ok": await run_jobs(client, "a", 5),
        "a_net_x": await run_jobs(client, "a", 4, account="x", error=ConnectionError("refused 1")),
        "b_parse_y": await run_jobs(client, "b", 3, account="y", error=ValueError("bad 7")),
        "b_ok_x": await run_jobs(client, "b", 2, account="x"),
        "c_mail": await run_jobs(client, "c", 3, queue="mail", error=OSError("disk 5")),
    }
    return {k: set(v) for k, v in made.items()}


async def test_each_filter_alone(client: Client, history: dict[str, set[str]]) -> None:
    h = history
    everything = set().union(*h.values())
    assert set(await ids_of(client, JobFilter())) == everything
    assert set(await ids_of(client, JobFilter(task="a"))) == h["a_ok"] | h["a_net_x"]
    dead = h["a_net_x"] | h["b_parse_y"] | h["c_mail"]
    assert set(await ids_of(client, JobFilter(status=JobStatus.DEAD))) == dead
    assert set(await ids_of(client, JobFilter(status=JobStatus.SUCCEEDED))) == (
        h["a_ok"] | h["b_ok_x"]
    )
    assert set(await ids_of(client, JobFilter(queue="mail"))) == h["c_mail"]
    assert set(await ids_of(client, JobFilter(account="x"))) == h["a_net_x"] | h["b_ok_x"]
    assert set(await ids_of(client, JobFilter(error_contains="BAD 7"))) == h["b_parse_y"]
    assert await ids_of(client, JobFilter(status=JobStatus.CANCELLED)) == []


async def test_filters_combined(client: Client, history: dict[str, set[str]]) -> None:
    h = history
    found = await ids_of(client, JobFilter(task="a", status=JobStatus.DEAD, account="x"))
    assert set(found) == h["a_net_x"]
    assert await ids_of(client, JobFilter(task="a", account="y")) == []
    both = JobFilter(task="b", account="x", status=JobStatus.SUCCEEDED, queue="default")
    assert set(await ids_of(client, both)) == h["b_ok_x"]
    assert set(await ids_of(client, JobFilter(queue="mail", error_contains="disk"))) == h["c_mail"]
    assert await ids_of(client, JobFilter(queue="mail", task="a")) == []


async def test_the_time_window(client: Client) -> None:
    old = set(await run_jobs(client, "t", 3, error=KeyError("k")))
    await asyncio.sleep(0.05)
    middle = datetime.now(UTC)
    await asyncio.sleep(0.05)
    new = set(await run_jobs(client, "t", 2, error=KeyError("k")))
    assert set(await ids_of(client, JobFilter(since=middle))) == new
    assert set(await ids_of(client, JobFilter(until=middle, task="t"))) == old
    window = JobFilter(since=middle - timedelta(hours=1), until=middle)
    assert set(await ids_of(client, window)) == old


async def test_cursor_pages_through_thousands_without_duplicates_or_gaps(client: Client) -> None:
    # complete() writes a batch in one script call: up to 1,000 jobs share one ms.
    made = set(await run_jobs(client, "p", 2500))
    made |= set(await run_jobs(client, "p", 600, queue="other", error=ConnectionError("x")))
    search = JobSearch(client.backend)
    seen: list[str] = []
    times: list[tuple[datetime, str]] = []
    cursor = None
    while True:
        page = await search.search(JobFilter(task="p"), limit=137, cursor=cursor)
        seen += [job.id for job in page.jobs]
        times += [(job.finished_at or datetime.min, job.id) for job in page.jobs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(made)
    assert set(seen) == made
    assert times == sorted(times, reverse=True)  # newest first, ties by id


async def test_a_page_stops_at_its_budget_and_the_cursor_goes_on(client: Client) -> None:
    await run_jobs(client, "q", 50)
    wanted = set(await run_jobs(client, "q", 3, error=ConnectionError("needle")))
    search = JobSearch(client.backend)
    where = JobFilter(error_contains="needle")
    page = await search.search(where, limit=10, budget=10)
    assert page.examined == 10 and page.next_cursor is not None
    found = {job.id for job in page.jobs}
    while page.next_cursor:
        page = await search.search(where, limit=10, cursor=page.next_cursor, budget=10)
        found |= {job.id for job in page.jobs}
    assert found == wanted


async def test_a_page_whose_time_is_up_returns_what_it_examined_with_a_cursor(
    client: Client,
) -> None:
    """Time-bounded pages: with no time at all, a page still examines one batch (so
    every page moves on) and stops there with a cursor; the pages find every match."""
    await run_jobs(client, "q", FETCH + 40)
    wanted = set(await run_jobs(client, "q", 2, error=ConnectionError("needle")))
    search = JobSearch(client.backend)
    where = JobFilter(error_contains="needle")
    page = await search.search(where, limit=10, seconds=0.0)
    assert 0 < page.examined <= FETCH and page.next_cursor is not None  # one batch
    found, pages = {job.id for job in page.jobs}, 1
    while page.next_cursor:
        page = await search.search(where, limit=10, cursor=page.next_cursor, seconds=0.0)
        found |= {job.id for job in page.jobs}
        pages += 1
    assert found == wanted and pages >= 2
    whole = await search.search(where, limit=10, seconds=30.0)  # time enough: one page
    assert {job.id for job in whole.jobs} == wanted and whole.next_cursor is None


async def test_bad_cursors_and_filters_are_one_line_errors(client: Client) -> None:
    search = JobSearch(client.backend)
    with pytest.raises(ConfigurationError, match="bad cursor"):
        await search.search(JobFilter(), cursor="nonsense!")
    await run_jobs(client, "r", 3)
    page = await search.search(JobFilter(task="r"), limit=1)
    assert page.next_cursor
    with pytest.raises(ConfigurationError, match="other filters"):
        await search.search(JobFilter(task="s"), cursor=page.next_cursor)
    with pytest.raises(ConfigurationError, match="covers finished jobs"):
        JobFilter(status=JobStatus.QUEUED)


def test_since_and_until_parse_durations_and_iso_times() -> None:
    now = 1_800_000_000.0
    at = datetime.fromtimestamp(now, UTC)
    assert parse_moment("2h", now=now) == at - timedelta(hours=2)
    assert parse_moment("30m", now=now) == at - timedelta(minutes=30)
    assert parse_moment("1h30m", now=now) == at - timedelta(minutes=90)
    iso = parse_moment("2026-03-01T09:30:00+01:00")
    assert iso == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    assert parse_moment("2026-03-01T08:30:00Z") == iso
    with pytest.raises(ConfigurationError, match="no UTC offset"):
        parse_moment("2026-03-01T09:30:00", "--until")
    with pytest.raises(ConfigurationError, match="--since 'soon' is neither a duration"):
        parse_moment("soon")


def index_members(raw: redis.Redis, prefix: str) -> dict[str, list[str]]:
    out = {}
    for key in raw.scan_iter(match=f"{prefix}*", count=1000):
        if raw.type(key) == "zset" and not key.endswith(("f:keys", "groups", ":a")):
            out[key] = list(raw.zrange(key, 0, -1))
    return out


async def test_no_index_entry_outlives_its_record(client: Client, raw: redis.Redis) -> None:
    keys = client.broker.keys.queue("default")
    short = await run_jobs(client, "z", 30, account="acct", retention_ms=100)
    await run_jobs(client, "z", 5, account="acct")  # kept an hour
    dead = await run_jobs(client, "z", 4, account="acct", error=TimeoutError("t"))
    await client.cancel((await client.submit(JobRequest("z", force=True))).id)
    await asyncio.sleep(0.2)  # trim forgets finished jobs older than its retention
    await client.broker.trim("default", retention_ms=100)
    members = index_members(raw, keys.index_prefix)
    assert members, "the indexes were not written"
    for key, ids in members.items():
        for job_id in ids:
            assert raw.exists(keys.job(job_id)), f"{job_id} in {key} has no record"
    assert not any(job_id in ids for ids in members.values() for job_id in short)
    # Requeue and purge take dead jobs out of every index.
    assert await client.requeue_dead(job_id=dead[0]) == 1
    assert await client.purge_dead(job_id=dead[1]) == 1
    members = index_members(raw, keys.index_prefix)
    for job_id in dead[:2]:
        assert not any(job_id in ids for key, ids in members.items() if ":d:" in key)
    assert set(await ids_of(client, JobFilter(status=JobStatus.DEAD))) == set(dead[2:])
    cancelled = (await client.submit(JobRequest("z", force=True))).id
    await client.cancel(cancelled)
    assert await ids_of(client, JobFilter(status=JobStatus.CANCELLED)) == [cancelled]


async def test_retention_by_count_takes_trimmed_jobs_out_of_every_index(
    client: Client, raw: redis.Redis
) -> None:
    """The per-state indexes the search reads are the ones the retention trims: a job
    trimmed by count (records still there) leaves the task, account and group indexes
    too, and a search with no status spans every finished state and the dead."""
    keys, broker = client.broker.keys.queue("default"), client.broker
    ok = await run_jobs(client, "z", 6, account="acct")
    dead = await run_jobs(client, "z", 4, account="acct", error=TimeoutError("t"))
    cancelled = set()
    for _ in range(2):
        job = await client.submit(JobRequest("z", account="acct", force=True))
        await client.cancel(job.id)
        cancelled.add(job.id)
    assert raw.zcard(keys.finished("cancelled")) == 2 and raw.zcard(keys.done) == 6
    assert await broker.trim_state("default", JobStatus.SUCCEEDED, Keep(count=2)) == 4
    assert await broker.trim_state("default", JobStatus.DEAD, Keep(count=1)) == 3
    kept_ok = {i for i in ok if raw.exists(keys.job(i))}
    kept_dead = {i for i in dead if raw.exists(keys.job(i))}
    assert len(kept_ok) == 2 and len(kept_dead) == 1
    for key, ids in index_members(raw, keys.index_prefix).items():
        for job_id in ids:
            assert raw.exists(keys.job(job_id)), f"{job_id} in {key} has no record"
    kept = kept_ok | kept_dead | cancelled
    assert set(await ids_of(client, JobFilter())) == kept
    assert set(await ids_of(client, JobFilter(task="z"))) == kept
    assert set(await ids_of(client, JobFilter(account="acct"))) == kept
    finished = await ids_of(client, JobFilter(account="acct", status=JobStatus.CANCELLED))
    assert set(finished) == cancelled
    (fp,) = {raw.hget(keys.job(i), "fp") for i in kept_dead}
    assert set(await ids_of(client, JobFilter(error_group=fp))) == kept_dead
    assert raw.hget(keys.stats, "trimmed") == "7"


async def indexed(client: Client, where: JobFilter, page: int = 2) -> list[tuple[str, str]]:
    return [
        (queue, job_id)
        async for queue, ids in JobSearch(client.backend).indexed_ids(where, page=page)
        for job_id in ids
    ]


async def searched_by_queue(client: Client, where: JobFilter) -> list[tuple[str, str]]:
    """The search's matches, newest first within each queue, queue after queue."""
    page = await JobSearch(client.backend).search(where, limit=1000)
    queues = await client.backend.inspector.queues()
    return [(q, j.id) for q in queues for j in page.jobs if j.queue == q]


async def test_an_exact_filter_reads_its_ids_straight_from_the_index(
    client: Client, history: dict[str, set[str]]
) -> None:
    """Dead jobs with at most one of task, account, error group (and any queue and
    window): the ids come from the one index, in pages, per queue in the search's
    order."""
    dead = JobStatus.DEAD
    (group,) = {j.error_group for j in await client.jobs(status=dead, queue="mail")}
    shapes = [
        JobFilter(status=dead),
        JobFilter(status=dead, queue="default"),
        JobFilter(status=dead, task="b"),
        JobFilter(status=dead, account="x", queue="default"),
        JobFilter(status=dead, error_group=group),
        JobFilter(status=dead, task="nobody"),
        JobFilter(status=dead, until=datetime.now(UTC) - timedelta(hours=1)),
    ]
    for where in shapes:
        assert await indexed(client, where) == await searched_by_queue(client, where), where
    assert {i for _, i in await indexed(client, JobFilter(status=dead))} == (
        history["a_net_x"] | history["b_parse_y"] | history["c_mail"]
    )
    assert len(await indexed(client, JobFilter(status=dead, task="b"))) == 3


async def test_index_pages_step_over_ties_and_refuse_inexact_filters(
    client: Client, raw: redis.Redis
) -> None:
    ids = await run_jobs(client, "t", 7, error=ValueError("no"))
    dead_key = client.backend.keys.queue("default").dead
    raw.zadd(dead_key, dict.fromkeys(ids, 1_000))  # seven deaths in one millisecond
    for page in (1, 2, 3, 7, 50):
        found = await indexed(client, JobFilter(status=JobStatus.DEAD), page)
        assert found == [("default", i) for i in sorted(ids, reverse=True)]
    for inexact in (
        JobFilter(status=JobStatus.DEAD, task="t", account="x"),
        JobFilter(status=JobStatus.DEAD, error_contains="no"),
        JobFilter(status=JobStatus.DEAD, not_accounts=("x",)),
        JobFilter(task="t"),
    ):
        with pytest.raises(ConfigurationError, match="needs the records checked"):
            await indexed(client, inexact)


async def test_dead_filters_naming_several_indexes_are_their_intersection(
    client: Client, history: dict[str, set[str]]
) -> None:
    """Dead jobs of a task AND an account (AND a group): answered by the dead
    indexes (each id read from the smallest, checked in the others), no record
    read, so nothing outside the intersection may slip in."""
    b_dead_x = set(await run_jobs(client, "b", 3, account="x", error=ValueError("bad 8")))
    dead = JobStatus.DEAD
    assert (
        set(await ids_of(client, JobFilter(status=dead, task="a", account="x")))
        == (history["a_net_x"])
    )
    assert set(await ids_of(client, JobFilter(status=dead, task="b", account="x"))) == b_dead_x
    assert set(await ids_of(client, JobFilter(status=dead, account="x"))) == (
        history["a_net_x"] | b_dead_x
    )
    (group,) = {j.error_group for j in await client.jobs(status=dead) if j.id in b_dead_x}
    both = JobFilter(status=dead, task="b", account="x", error_group=group)
    assert set(await ids_of(client, both)) == b_dead_x
    assert await ids_of(client, JobFilter(status=dead, task="a", error_group=group)) == []
    assert await ids_of(client, JobFilter(status=dead, task="c", account="x")) == []
    page = await JobSearch(client.backend).search(
        JobFilter(status=dead, task="b", account="x"), limit=2
    )
    rest = await JobSearch(client.backend).search(
        JobFilter(status=dead, task="b", account="x"), limit=2, cursor=page.next_cursor
    )
    assert {j.id for j in page.jobs + rest.jobs} == b_dead_x and len(page.jobs) == 2
