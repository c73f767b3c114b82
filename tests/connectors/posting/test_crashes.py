"""Real worker processes: one SIGKILLed mid-upload, another resuming the post with
the same publish id (the emulator sees ONE init and one published post); and two
workers whose token is due for refresh at once (the emulator sees ONE refresh,
and the rotated-out refresh token is never sent again)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chronoq import Client, JobStatus
from chronoq.connectors.posting import Poster, PostState, TikTokEmulator, TokenSet
from tests.connectors.posting.helpers import ended, schedule_now
from tests.connectors.posting.post_app import ACCOUNT
from tests.fault.helpers import ONE_AT_A_TIME, WorkerProcess, workers
from tests.worker.helpers import wait_until

APP = "tests.connectors.posting.post_app:app"
pytestmark = [ONE_AT_A_TIME, pytest.mark.timeout(120)]


@dataclass
class Fleet:
    tiktok: TikTokEmulator
    redis_url: str
    prefix: str
    started: list[WorkerProcess] = field(default_factory=list)

    def worker(self, *options: str) -> WorkerProcess:
        env = {"CHRONOQ_TEST_TIKTOK_URL": self.tiktok.url}
        made = WorkerProcess(self.redis_url, self.prefix, "--lease", "1", "--queues", "posting",
                             *options, env=env, app=APP)  # fmt: skip
        self.started.append(made)
        return made

    def logs(self) -> str:
        return "\n".join(w.output()[-1500:] for w in self.started)


@pytest.fixture
def fleet(tiktok: TikTokEmulator, redis_url: str, prefix: str) -> Iterator[Fleet]:
    with workers() as started:
        made = Fleet(tiktok, redis_url, prefix)
        made.started = started
        yield made


@pytest.mark.parametrize("reply_lost", [False, True], ids=["chunk-dropped", "reply-lost"])
async def test_killed_mid_upload_the_retry_resumes_with_the_same_publish_id(
    client: Client, *, poster: Poster, tiktok: TikTokEmulator, video: str, fleet: Fleet,
    reply_lost: bool,
) -> None:  # fmt: skip
    hold = tiktok.hold_chunk(1, after_store=reply_lost)
    job_id = await schedule_now(poster, "crash", video)
    first = fleet.worker()

    async def mid_upload() -> bool:
        post = await poster.post("crash")
        return hold.reached.is_set() and post is not None and post.chunks_done == 1

    await wait_until(mid_upload, timeout=30, interval=0.02)
    await asyncio.sleep(0.3)  # a worker that went on would have recorded more by now
    before = await poster.post("crash")
    assert before is not None and before.state is PostState.UPLOADING and before.publish_id
    first.signal(signal.SIGKILL)
    first.wait(5)
    hold.release.set()  # the held request ends (its caller is dead)
    fleet.worker()
    job = await ended(client, job_id, timeout=60)
    assert job.status is JobStatus.SUCCEEDED, (job.error, fleet.logs())

    assert tiktok.platform.count("init") == 1  # never posted twice
    (upload,) = tiktok.platform.published()
    assert upload.publish_id == before.publish_id
    assert b"".join(upload.digest) == await asyncio.to_thread(Path(video).read_bytes)
    after = await poster.post("crash")
    assert after is not None and after.state is PostState.PUBLISHED
    assert after.publish_id == before.publish_id

    killed, resumed = await poster.attempts("crash")
    assert killed.outcome == "interrupted"
    assert [c.endpoint for c in killed.calls] == ["init", "upload"]  # chunk 0's 206
    assert resumed.outcome == "published" and resumed.calls[0].endpoint == "status"
    resent = [c.detail for c in resumed.calls if c.endpoint == "upload"]
    if reply_lost:  # the platform had chunk 2 (uploaded_bytes): only chunk 3 goes again
        assert [d.split()[1] for d in resent] == ["3/3"]
    else:
        assert [d.split()[1] for d in resent] == ["2/3", "3/3"]


async def test_two_workers_due_for_a_refresh_at_once_refresh_once(
    client: Client, poster: Poster, tiktok: TikTokEmulator, video: str, fleet: Fleet
) -> None:
    stored = await poster.tokens.get(ACCOUNT)
    assert stored is not None
    soon = TokenSet(stored.access_token, time.time() + 60, stored.refresh_token,
                    stored.refresh_expires_at, stored.open_id, stored.scope)  # fmt: skip
    await poster.tokens.store(ACCOUNT, soon)  # 60 s left: under the 5 min margin
    tiktok.platform.refresh_delay = 0.5  # both are waiting on the refresh meanwhile
    jobs = [await schedule_now(poster, f"r{n}", video) for n in range(2)]
    fleet.worker("--concurrency", "1")
    fleet.worker("--concurrency", "1")
    done = [await ended(client, job_id, timeout=60) for job_id in jobs]
    assert [j.status for j in done] == [JobStatus.SUCCEEDED] * 2, fleet.logs()
    assert len({j.worker_id for j in done}) == 2, "each worker ran one post"  # cross-process

    assert tiktok.platform.count("token") == 1  # one refresh, so no invalid_grant
    assert len(tiktok.platform.published()) == 2
    now = await poster.tokens.get(ACCOUNT)
    assert now is not None and now.refresh_token == tiktok.platform.accounts[ACCOUNT].refresh_token
    assert now.refresh_token != stored.refresh_token and now.left(time.time()) > 3600
