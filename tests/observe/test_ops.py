"""The operations rollups as stored and read: sums and maxima through the minute,
hour and day buckets, a bad write refused before anything is written, and the
`operations` part of the report (text, JSON, HTML)."""

from __future__ import annotations

import time

import pytest
import redis
from redis.exceptions import ResponseError

from chronoq import App
from chronoq.core.ops import OpsBatch
from chronoq.core.rollups import Keep
from chronoq.observe.ops import ops_window
from chronoq.observe.report import build_report, report_text
from chronoq.observe.report_html import report_html
from chronoq.redis.keys import Keyspace
from chronoq.redis.ops import record_call
from chronoq.redis.scripts import SCRIPTS

MB = 1_000_000


async def test_sums_and_peaks_through_every_resolution(
    app: App, prefix: str, raw: redis.Redis
) -> None:
    now = int(time.time() * 1000)
    async with app.backend() as backend:
        for rss in (300 * MB, 200 * MB):  # two workers' beats in one minute
            batch = OpsBatch()
            batch.count("worker", "mail", "samples", now)
            batch.count("worker", "mail", "rss_sum", now, rss)
            batch.count("worker", "mail", "cpu_ms", now, 1500)
            batch.peak("worker", "mail", "rss_max", now, rss)
            batch.count("limit", "api", "denied", now, 2)
            batch.observe_late("nightly", now, 40)
            batch.count("sched", "nightly", "fired", now)
            assert await backend.ops.write(batch) == 1  # one script call: one minute
        for hours in (1, 48):  # minutes, then hours and days
            ops = await ops_window(backend, hours)
            [worker] = ops.workers
            assert (worker.samples, worker.cpu_seconds) == (2, 3.0)
            assert (worker.rss_peak_mb, worker.rss_mean_mb) == (300.0, 250.0)
            assert [(x.limit, x.granted, x.denied, x.denied_share) for x in ops.limits] == [
                ("api", 0, 4, 1.0)
            ]
            [sched] = ops.schedules
            assert sched.fired == 2 and sched.enqueue_lateness.count == 2
            assert sched.enqueue_lateness.mean == 0.04
        totals = await backend.ops.totals()
    assert totals == {"limit": {"api": {"denied": 4}}, "sched": {"nightly": {"fired": 2}}}
    keys = Keyspace(prefix).ops
    assert 0 < raw.pttl(keys.bucket("m", now // 60_000)) <= (26 * 3600 + 60) * 1000


async def test_a_bad_write_is_refused_before_anything_is_written(
    app: App, prefix: str, raw: redis.Redis
) -> None:
    keys = Keyspace(prefix).ops
    good = ("limit\tapi\tgranted", "a", 1)
    bad = ("limit\tapi\tdenied", "a", "1.5")
    call_keys, args = record_call(keys, int(time.time() * 1000) // 60_000, [good], Keep())
    args += list(bad)
    async with app.backend() as backend:
        with pytest.raises(ResponseError, match="ops_record: bad triple"):
            await SCRIPTS.ops_record(backend.redis, call_keys, args)
    assert raw.exists(*call_keys) == 0


async def test_the_report_shows_the_operations(app: App) -> None:
    now = int(time.time() * 1000)
    batch = OpsBatch()
    batch.count("sched", "nightly", "missed", now, 3)
    batch.count("limit", "api", "granted", now, 7)
    batch.count("lock", "report", "lost", now)
    batch.count("worker", "mail", "samples", now)
    batch.peak("worker", "mail", "rss_max", now, 120 * MB)
    batch.count("worker", "mail", "rss_sum", now, 120 * MB)
    async with app.backend() as backend:
        await backend.ops.write(batch)
        report = await build_report(backend, hours=1)
    ops = report.to_dict()["operations"]
    assert ops["schedules"][0]["missed"] == 3
    assert ops["limits"] == [{"limit": "api", "granted": 7, "denied": 0, "denied_share": 0.0}]
    assert ops["locks"] == [{"family": "report", "contended": 0, "timeout": 0, "lost": 1}]
    assert ops["workers"][0]["rss_peak_mb"] == 120.0
    text = report_text(report)
    assert "nightly: - / - / -; 0 fired, 3 missed, 0 skipped" in text
    assert "api: 7 granted, 0 denied (0.0%)" in text
    assert "report: 0 contended, 0 timed out, 1 lost" in text
    assert "mail: peak 120.0 MB" in text
    html = report_html(report)
    assert "<h2>Locks</h2>" in html and "<td>report</td>" in html
