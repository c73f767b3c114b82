"""The start-up check that refuses (or warns about) servers that can lose jobs."""

from __future__ import annotations

import logging

import pytest

from chronoq import App
from chronoq.core.errors import ServerUnsafe
from chronoq.redis.connection import connect
from chronoq.redis.server_check import ServerReport, check_server
from chronoq.worker import Worker, WorkerOptions


def test_report_names_each_risk() -> None:
    risky = ServerReport("7.0", eviction_policy="allkeys-lru", aof=False, rdb=False)
    problems = risky.problems()
    assert any("maxmemory-policy is 'allkeys-lru'" in p for p in problems)
    assert any("persists nothing" in p for p in problems)
    assert ServerReport("7.0", "noeviction", aof=True, rdb=False).problems() == []


async def test_check_warns_with_every_problem_of_the_server(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    redis = connect(redis_url)
    try:
        with caplog.at_level(logging.WARNING, logger="chronoq.redis"):
            report = await check_server(redis, strict=False)
    finally:
        await redis.aclose()
    assert report.version
    for problem in report.problems():  # the CI server keeps nothing on disk: one at least
        assert problem in caplog.text
    assert bool(report.problems()) == ("chronoq:" in caplog.text)


async def test_strict_worker_refuses_to_start(redis_url: str, prefix: str) -> None:
    app = App(redis_url=redis_url, prefix=prefix)
    app.settings = app.settings.model_copy(update={"strict_server": True})
    with pytest.raises(ServerUnsafe, match="refusing to start"):
        await Worker(app, WorkerOptions()).run()
