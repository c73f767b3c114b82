"""A post runs at its instant in the author's zone (the real worker starts it
within ±30 s: in practice within milliseconds); wall times and their zones; the
daily account sync and what it stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chronoq import App, Client, JobStatus
from chronoq.connectors.posting import SYNC_TASK, Poster, TikTokEmulator, instant
from tests.connectors.posting.helpers import ended, schedule_now
from tests.connectors.posting.post_app import ACCOUNT, ZONE
from tests.worker.helpers import running_worker

BAR = 30.0  # seconds: the seed's bar for a scheduled post


async def test_posts_start_at_their_instant_in_the_authors_zone(
    app: App, client: Client, poster: Poster, tiktok: TikTokEmulator, video: str
) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    kolkata = soon.astimezone(ZoneInfo(ZONE)).replace(tzinfo=None)  # +05:30, the account's
    st_johns = (soon + timedelta(seconds=1)).astimezone(ZoneInfo("America/St_Johns"))
    first = await poster.schedule_post("at-1", at=kolkata, account=ACCOUNT, video=video)
    second = await poster.schedule_post(
        "at-2", at=(st_johns.replace(tzinfo=None), "America/St_Johns"), account=ACCOUNT,
        video=video,
    )  # fmt: skip
    async with running_worker(app, queues="posting", idle_wait=0.1):
        jobs = [await ended(client, j.id) for j in (first, second)]
    for job, due in zip(jobs, (soon, soon + timedelta(seconds=1)), strict=True):
        assert job.status is JobStatus.SUCCEEDED, job.error
        assert job.run_at == due
        assert job.started_at is not None
        late = (job.started_at - due).total_seconds()
        assert -0.5 <= late <= BAR, late  # never early (0.5 s for the clocks' resolution)
    post = await poster.post("at-1")
    assert post is not None and post.at == soon.isoformat()


def test_wall_times_resolve_in_their_zone() -> None:
    kolkata = instant(datetime(2025, 6, 2, 9, 0), "Asia/Kolkata")
    assert kolkata == datetime(2025, 6, 2, 3, 30, tzinfo=UTC)
    aware = datetime(2025, 6, 2, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert instant(aware, "Asia/Kolkata") == datetime(2025, 6, 2, 7, 0, tzinfo=UTC)
    eastern = (datetime(2025, 11, 2, 1, 30), "America/New_York")  # the autumn fold
    assert instant(eastern, "UTC") == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)  # EDT first
    later = (datetime(2025, 11, 2, 1, 30, fold=1), "America/New_York")
    assert instant(later, "UTC") == datetime(2025, 11, 2, 6, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="does not exist in America/New_York"):
        instant((datetime(2025, 3, 9, 2, 30), "America/New_York"), "UTC")  # the gap
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        instant((datetime(2025, 3, 9, 2, 30), "Mars/Base"), "UTC")
    with pytest.raises(ValueError, match="naive"):
        instant((aware, "UTC"), "UTC")


async def test_accounts_sync_their_names_and_limits_and_a_failure_is_recorded(
    app: App, client: Client, poster: Poster, tiktok: TikTokEmulator, video: str
) -> None:
    tiktok.platform.audited = False  # the creator may only post SELF_ONLY
    job = await client.enqueue(poster.sync_task)
    async with running_worker(app, queues="posting", idle_wait=0.1):
        done = await ended(client, job.id)
        assert done.status is JobStatus.SUCCEEDED, done.error
        result = await client.result(job.id)
        assert result["synced"] == [ACCOUNT] and "no tokens" in result["failed"]["beta"]
        acme = await poster.account_info(ACCOUNT)
        assert acme is not None and acme["display_name"] == "Acme" and acme["error"] is None
        assert acme["limits"]["privacy_level_options"] == ["SELF_ONLY"]
        assert acme["limits"]["max_video_post_duration_sec"] == 600
        beta = await poster.account_info("beta")
        assert beta is not None and "no tokens" in beta["error"]
        assert [s.endpoint for s in tiktok.platform.seen] == ["user_info", "creator_info"]

        public = await schedule_now(poster, "public", video, privacy_level="PUBLIC_TO_EVERYONE")
        refused = await ended(client, public)
    assert refused.status is JobStatus.DEAD
    assert "privacy_level_option_mismatch" in (refused.error or "")
    assert tiktok.platform.count("init") == 0  # refused before calling the platform


def test_the_daily_sync_is_a_schedule_of_the_sync_task(poster: Poster) -> None:
    made = poster.schedule_sync("0 3 * * *", tz="Europe/Paris")
    assert (made.name, made.task, made.spec, made.tz) == (
        SYNC_TASK, SYNC_TASK, "0 3 * * *", "Europe/Paris")  # fmt: skip
    assert poster.app.declared_schedules[SYNC_TASK] is made
