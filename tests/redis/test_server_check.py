"""The start-up check that refuses (or warns about) servers that can lose jobs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from chronoq import App
from chronoq.core.errors import ServerUnsafe
from chronoq.redis.connection import connect
from chronoq.redis.server_check import ServerReport, check_server
from chronoq.worker import Worker, WorkerOptions
from tests.redis.private_servers import PrivateServer, new_server, private_servers


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


def test_what_cannot_be_read_is_reported_unknown_not_safe() -> None:
    unread = ServerReport("unknown", eviction_policy=None, aof=None, rdb=None)
    problems = unread.problems()
    assert len(problems) == 2
    assert problems[0].startswith("maxmemory-policy is unknown")
    assert problems[1].startswith("persistence is unknown")
    assert ServerReport("7.0", "noeviction", aof=True, rdb=None).problems() == []
    assert ServerReport("7.0", "noeviction", aof=None, rdb=True).problems() == []


@pytest.fixture
def servers() -> Iterator[list[PrivateServer]]:
    with private_servers() as started:
        yield started


def acl_user(server: PrivateServer, name: str, *rules: str) -> str:
    """An ACL user with every command but `rules` removed; returns its URL."""
    server.admin().acl_setuser(
        name, enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
        commands=["+@all", *rules],
    )  # fmt: skip
    return f"redis://{name}:pw@{server.label}/0"


async def inspect_as(url: str, *, strict: bool = False) -> ServerReport:
    redis = connect(url)
    try:
        return await check_server(redis, strict=strict)
    finally:
        await redis.aclose()


async def test_a_user_without_config_still_sees_the_eviction_policy(
    servers: list[PrivateServer], caplog: pytest.LogCaptureFixture
) -> None:
    """INFO memory carries maxmemory_policy: a denied CONFIG GET no longer hides
    an allkeys-lru server behind an assumed noeviction."""
    server = new_server(servers, "--maxmemory-policy", "allkeys-lru")
    url = acl_user(server, "noconfig", "-config")
    with caplog.at_level(logging.WARNING, logger="chronoq.redis"):
        report = await inspect_as(url)
    assert report.eviction_policy == "allkeys-lru"
    assert report.aof is True and report.persists is True  # from INFO persistence
    assert "maxmemory-policy is 'allkeys-lru'" in caplog.text
    with pytest.raises(ServerUnsafe, match="allkeys-lru"):
        await inspect_as(url, strict=True)


async def test_a_user_without_info_falls_back_to_config(servers: list[PrivateServer]) -> None:
    server = new_server(servers, "--appendonly", "no", "--save", "60 1")
    report = await inspect_as(acl_user(server, "noinfo", "-info"))
    assert report.version == "unknown"
    assert report.eviction_policy == "noeviction"
    assert report.aof is False and report.rdb is True
    assert report.problems() == []


async def test_a_user_with_neither_info_nor_config_starts_warned_of_unknowns(
    servers: list[PrivateServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = new_server(servers)
    url = acl_user(server, "blind", "-info", "-config")
    with caplog.at_level(logging.WARNING, logger="chronoq.redis"):
        report = await inspect_as(url)
    assert report == ServerReport("unknown", eviction_policy=None, aof=None, rdb=None)
    assert "maxmemory-policy is unknown" in caplog.text
    assert "persistence is unknown" in caplog.text
    with pytest.raises(ServerUnsafe, match="refusing to start: maxmemory-policy is unknown"):
        await inspect_as(url, strict=True)
