"""Fair sharing across accounts: round-robin order in one ready queue."""

from __future__ import annotations

import asyncio
import time

import redis

from chronoq import Client
from chronoq.client import JobRequest
from tests.redis.test_broker import claim

DELAY = 0.5


def of(account: str | None, n: int = 0) -> JobRequest:
    return JobRequest("t", [n], account=account, force=True)


async def claim_all(client: Client) -> list[str]:
    ids: list[str] = []
    while batch := (await claim(client.broker, count=100)).jobs:
        ids += [j.id for j in batch]
    return ids


async def test_one_job_is_not_held_back_by_another_accounts_ten_thousand(
    client: Client,
) -> None:
    await client.enqueue_many(of("big", i) for i in range(10_000))
    first = (await claim(client.broker, count=3)).jobs  # the queue is already moving
    small = await client.submit(of("small"))
    following = (await claim(client.broker, count=2)).jobs
    assert small.id in [j.id for j in following]  # bound: behind at most one "big" job
    assert small.id not in [j.id for j in first]


async def test_accounts_take_turns(client: Client) -> None:
    jobs = {}
    for account in ("a", "b", "c"):
        for n in range(4):
            job = await client.submit(of(account, n))
            jobs[job.id] = f"{account}{n}"
    order = [jobs[i] for i in await claim_all(client)]
    rounds = [sorted(order[i : i + 3]) for i in range(0, 12, 3)]
    assert rounds == [[f"a{n}", f"b{n}", f"c{n}"] for n in range(4)]


async def test_jobs_without_an_account_share_as_one_account(client: Client) -> None:
    anonymous = await client.enqueue_many(of(None, i) for i in range(50))
    named = await client.submit(of("acme"))
    order = await claim_all(client)
    assert order.index(named.id) <= 1
    assert [i for i in order if i != named.id] == [j.id for j in anonymous]  # FIFO kept


async def test_a_single_job_without_an_account_waits_its_turn_after_accounts_ran(
    client: Client,
) -> None:
    # enqueue_plain numbers such a job from seq alone: the claim that moved the
    # queue's virtual time past seq (here: account jobs only) must have moved seq too,
    # or the job would jump ahead of the account's next one.
    big = await client.enqueue_many(of("big", i) for i in range(10))
    await claim(client.broker, count=5)
    plain = await client.submit(of(None))
    (after,) = (await claim(client.broker, count=1)).jobs
    assert after.id == big[5].id  # the tie at vt+1 goes to the older job
    (then,) = (await claim(client.broker, count=1)).jobs
    assert then.id == plain.id


async def test_priority_still_comes_first(client: Client) -> None:
    await client.enqueue_many(of("big", i) for i in range(20))
    urgent = await client.submit(JobRequest("t", account="small", priority=5, force=True))
    (first,) = (await claim(client.broker, count=1)).jobs
    assert first.id == urgent.id


async def test_an_account_is_forgotten_once_it_has_nothing_waiting(
    client: Client, raw: redis.Redis
) -> None:
    await client.enqueue_many(of(f"acct{i}", i) for i in range(20))
    await claim_all(client)
    fair = raw.hgetall(client.broker.keys.queue("default").fair)
    assert set(fair) == {"vt"}  # per-account entries do not pile up


async def test_delayed_jobs_join_the_line_at_their_accounts_turn(client: Client) -> None:
    # Long enough a delay that it is still waiting through the first claim on a loaded
    # machine (checked), then waited out to its due time.
    small = await client.submit(JobRequest("t", account="small", delay=DELAY, force=True))
    due = time.monotonic() + DELAY  # not before: the server's clock started it earlier
    await client.enqueue_many(of("big", i) for i in range(100))
    first = [j.id for j in (await claim(client.broker, count=10)).jobs]
    assert small.id not in first
    await asyncio.sleep(due - time.monotonic() + 0.01)
    following = [j.id for j in (await claim(client.broker, count=2)).jobs]
    assert small.id in following
