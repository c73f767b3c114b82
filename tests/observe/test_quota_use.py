"""Quota use per account per local day: written by limit_acquire.lua as a worker's
limiter grants starts, read by chronoq.observe.quota_use and `chronoq report`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chronoq import App, Client, JobStatus
from chronoq.client import JobRequest
from chronoq.control.limiter import Limiter, LimitRequest
from chronoq.core.limits import Kind, Limit, Period
from chronoq.observe.quota_use import quota_use
from chronoq.observe.report import build_report, report_text
from chronoq.redis.limits import LimitStore
from tests.worker.helpers import running_worker, wait_until

DAY_S = 86_400


def local_day(tz: str, days_ahead: int = 0) -> str:
    return (datetime.now(ZoneInfo(tz)).date() + timedelta(days=days_ahead)).isoformat()


async def test_a_worker_granting_a_quota_counts_each_account_under_its_local_day(
    app: App, client: Client
) -> None:
    app.quota("sends", 2, per="day", tz="Asia/Kolkata")
    ran: list[tuple[str, int]] = []

    @app.task(quota="sends", account="{account}")
    async def send(account: str, n: int) -> None:
        ran.append((account, n))

    await client.backend.limits.set_account_zone("beta", "Pacific/Kiritimati")  # UTC+14
    async with running_worker(app):
        jobs = await client.enqueue_many(JobRequest(send, ["acme", n]) for n in range(3))
        await client.enqueue_many([JobRequest(send, ["beta", 9])])
        await wait_until(lambda_(lambda: len(ran) == 3))

        async def deferred() -> bool:
            return (await client.job(jobs[2].id)).status is JobStatus.SCHEDULED

        await wait_until(deferred)
    limit = await client.backend.limits.get("sends")
    use = await quota_use(client.backend, limit, days=3)
    # acme's third start is booked for Kolkata's next midnight: counted under that
    # day; beta's under its own local day (Kiritimati's date may be Kolkata's next)
    expected: dict[str, dict[str, int]] = {
        local_day("Asia/Kolkata"): {"acme": 2},
        local_day("Asia/Kolkata", 1): {"acme": 1},
    }
    expected.setdefault(local_day("Pacific/Kiritimati"), {})["beta"] = 1
    assert use.days == expected
    top = use.top(1)[0]
    assert (top.account, top.total, top.peak, top.day_cap) == ("acme", 3, 2, 2)
    assert top.peak_day == local_day("Asia/Kolkata") and top.peak_utilization == 1.0
    only = await quota_use(client.backend, limit, days=3, accounts=["beta"])
    assert [set(u) for u in only.days.values()] == [{"beta"}]

    # kept CHRONOQ_METRICS_DAYS (90 by default) after the day, set once
    ttl = await client.backend.redis.ttl(client.backend.keys.limit("sends").use(top.peak_day))
    assert 90 * DAY_S < ttl <= 92 * DAY_S

    report = await build_report(client.backend, hours=24)
    (quota,) = report.to_dict()["quotas"]
    assert quota["quota"] == "sends" and quota["top"][0]["account"] == "acme"
    assert "sends (2/day) account acme: peak 2" in report_text(report)


async def test_no_history_is_kept_when_the_store_keeps_none(client: Client) -> None:
    """CHRONOQ_METRICS=0 gives the backend's LimitStore use_keep_ms=0: grants write
    no history (the live quota state is counted as ever)."""
    none = LimitStore(client.backend.redis, client.backend.keys, use_keep_ms=0)
    await none.set(Limit("posts", 5, Period.HOUR, kind=Kind.QUOTA))
    decisions = await Limiter(none).decide("posts", [LimitRequest("acme")] * 3)
    assert all(d.go for d in decisions)
    limit = await none.get("posts")
    assert (await quota_use(client.backend, limit, days=1)).days == {}
    assert [u.used for u in await none.usage("posts", ["acme"])] == [3]

    counted = LimitStore(client.backend.redis, client.backend.keys, use_keep_ms=3_600_000)
    await Limiter(counted).decide("posts", [LimitRequest("acme")] * 2)
    use = await quota_use(client.backend, limit, days=1)
    assert use.days == {datetime.now(UTC).date().isoformat(): {"acme": 2}}
    assert use.day_cap == 5 * 24  # an hourly quota: 24 periods a day
    ttl_ms = await client.backend.redis.pttl(client.backend.keys.limit("posts").use_prefix
                                             + datetime.now(UTC).date().isoformat())  # fmt: skip
    assert 0 < ttl_ms <= DAY_S * 1000 + 3_600_000 - (time.time() % 3600) * 1000 + 1000


def lambda_(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return condition()

    return check
