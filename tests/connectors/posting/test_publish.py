"""The publish flow against the local emulator: init, chunks, status, published;
what 429, 5xx and the platform's 4xx codes do to the job; the attempt records."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from chronoq import App, Client, JobStatus
from chronoq.connectors.posting import Poster, PostState, TikTokEmulator
from tests.connectors.posting.conftest import VIDEO_SIZE
from tests.connectors.posting.helpers import ended, schedule_now
from tests.worker.helpers import running_worker

KIB = 1024


async def test_a_post_is_initialised_uploaded_in_chunks_and_published_once(
    app: App, client: Client, poster: Poster, tiktok: TikTokEmulator, video: str
) -> None:
    job_id = await schedule_now(poster, "p1", video, privacy_level="SELF_ONLY")
    async with running_worker(app, queues="posting", idle_wait=0.1):
        job = await ended(client, job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    (upload,) = tiktok.platform.published()
    assert upload.status == "PUBLISH_COMPLETE" and upload.post_info["title"] == "post p1"
    assert b"".join(upload.digest) == await asyncio.to_thread(Path(video).read_bytes)
    assert (upload.chunk_size, upload.total_chunks) == (64 * KIB, 3)  # last chunk: 72 KiB
    ranges = [s.detail["range"] for s in tiktok.platform.seen if s.endpoint == "upload"]
    last = VIDEO_SIZE - 1
    assert ranges == [f"bytes 0-65535/{VIDEO_SIZE}", f"bytes 65536-131071/{VIDEO_SIZE}",
                      f"bytes 131072-{last}/{VIDEO_SIZE}"]  # fmt: skip

    result = await client.result(job_id)
    assert result["state"] == "published" and result["post_ids"] == [upload.post_id]
    post = await poster.post("p1")
    assert post is not None and post.state is PostState.PUBLISHED
    assert post.publish_id == upload.publish_id and post.chunks_done == 3
    states = [state for state, _ in post.history]
    assert states[0] == "scheduled" and states[1:3] == ["initializing", "initializing"]
    assert states.index("uploading") < states.index("processing") < states.index("published")

    (attempt,) = await poster.attempts("p1")
    assert attempt.outcome == "published" and attempt.job == job_id
    assert [c.endpoint for c in attempt.calls][:4] == ["init", "upload", "upload", "upload"]
    assert attempt.statuses[:4] == [200, 206, 206, 201] and attempt.calls[0].log_id
    assert set(attempt.codes) == {"ok"}

    again = await poster.publish("p1")  # a retry after the end: nothing is sent
    assert again.already and tiktok.platform.count("init") == 1


async def test_a_429_defers_the_job_by_its_retry_after_without_spending_an_attempt(
    app: App, client: Client, poster: Poster, tiktok: TikTokEmulator, video: str
) -> None:
    tiktok.platform.fail_next("init", 429, "rate_limit_exceeded", "slow down", retry_after="1")
    job_id = await schedule_now(poster, "p429", video)
    async with running_worker(app, queues="posting", idle_wait=0.1):
        job = await ended(client, job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.attempts == 1  # the deferral spent none
    inits = [s for s in tiktok.platform.seen if s.endpoint == "init"]
    assert [s.status for s in inits] == [429, 200]
    assert inits[1].at - inits[0].at >= 1.0
    deferred, published = await poster.attempts("p429")
    assert (deferred.outcome, deferred.statuses, deferred.codes) == (
        "deferred", [429], ["rate_limit_exceeded"])  # fmt: skip
    assert "retry after 1 s" in deferred.reason
    assert published.outcome == "published" and len(tiktok.platform.published()) == 1


async def test_a_5xx_is_retried_with_backoff_and_resumes_without_a_second_init(
    app: App, client: Client, poster: Poster, tiktok: TikTokEmulator, video: str
) -> None:
    tiktok.platform.fail_next("status", 503, "internal_error", "try later")
    job_id = await schedule_now(poster, "p5xx", video)
    async with running_worker(app, queues="posting", idle_wait=0.1):
        job = await ended(client, job_id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    assert tiktok.platform.count("init") == 1 and len(tiktok.platform.published()) == 1
    failed, resumed = await poster.attempts("p5xx")
    assert failed.outcome == "retry" and (failed.statuses[-1], failed.codes[-1]) == (
        503, "internal_error")  # fmt: skip
    assert [c.endpoint for c in resumed.calls if c.endpoint != "status"] == []  # status only


@pytest.mark.parametrize(
    "case",
    [
        ("cap", "spam_risk_too_many_posts", 403),
        ("unaudited", "unaudited_client_can_only_post_to_private_accounts", 403),
        ("scripted", "scope_not_authorized", 401),
    ],
)
async def test_a_platform_refusal_is_permanent_with_its_code_as_the_reason(
    app: App, client: Client, *, poster: Poster, tiktok: TikTokEmulator, video: str,
    case: tuple[str, str, int],
) -> None:  # fmt: skip
    setup, code, status = case
    privacy = "SELF_ONLY"
    if setup == "cap":
        tiktok.platform.posts_per_day = 0
    elif setup == "unaudited":
        tiktok.platform.audited = False
        privacy = "PUBLIC_TO_EVERYONE"
    else:
        tiktok.platform.fail_next("init", 401, code, "the token lacks video.publish")
    job_id = await schedule_now(poster, "refused", video, privacy_level=privacy)
    async with running_worker(app, queues="posting", idle_wait=0.1):
        job = await ended(client, job_id)
    assert job.status is JobStatus.DEAD
    error = job.error or ""
    assert error.startswith(f"Permanent: {code}") and f"HTTP {status}" in error
    assert job.attempts == 1  # never retried
    post = await poster.post("refused")
    assert post is not None and post.state is PostState.FAILED and code in (post.reason or "")
    (attempt,) = await poster.attempts("refused")
    assert (attempt.outcome, attempt.statuses, attempt.codes) == ("failed", [status], [code])
    assert tiktok.platform.published() == []


async def test_a_failed_status_is_permanent_with_the_fail_reason(
    app: App, client: Client, poster: Poster, tiktok: TikTokEmulator, video: str
) -> None:
    tiktok.platform.fail_processing = "file_format_check_failed"
    job_id = await schedule_now(poster, "bad-file", video)
    async with running_worker(app, queues="posting", idle_wait=0.1):
        job = await ended(client, job_id)
    assert job.status is JobStatus.DEAD
    assert (job.error or "").startswith("Permanent: file_format_check_failed")
    post = await poster.post("bad-file")
    assert post is not None and post.state is PostState.FAILED


async def test_bad_input_is_refused_naming_the_field(poster: Poster, video: str) -> None:
    with pytest.raises(ValueError, match="account"):
        await schedule_now(poster, "x1", video, account="nobody")
    with pytest.raises(ValueError, match="privacy_level"):
        await schedule_now(poster, "x2", video, privacy_level="EVERYONE")
    with pytest.raises(ValueError, match="post_id"):
        await schedule_now(poster, "bad id{}", video)
    at = (datetime(2030, 1, 1, 9, 0), "UTC")
    first = await poster.schedule_post("x3", at=at, account="acme", video=video)
    again = await poster.schedule_post("x3", at=at, account="acme", video=video)
    assert (again.id, again.created) == (first.id, False)  # the same post: idempotent
    with pytest.raises(ValueError, match="post_id: 'x3' exists"):  # another definition
        await poster.schedule_post("x3", at=at, account="acme", video=video, title="other")
