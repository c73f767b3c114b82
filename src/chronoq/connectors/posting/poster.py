"""The posting connector: accounts (each with its author's time zone), posts
scheduled for an exact instant, the publish task that runs them once, and the
daily account sync.

```
api = TikTokClient("https://open.tiktokapis.com", client_key, client_secret)
poster = Poster(app, api)
poster.account("acme", zone="America/New_York")
poster.schedule_sync("0 3 * * *")                  # posting.sync_accounts, daily
await poster.tokens.store("acme", oauth_reply)     # after the user's consent
await poster.schedule_post("launch-1", at=(datetime(2025, 6, 2, 9, 0), "America/New_York"),
                           account="acme", video="/videos/launch.mp4", title="We launch")
```

The post's definition and state live in the ledger `posting` (model.py); its job
(`posting.publish`, unique per post, with a lock per post) is enqueued for the
instant itself, so a worker starts it within its poll of that time (well within
the ±30 s a publishing schedule needs). `poster.post(id)` shows the state,
`poster.attempts(id)` every attempt with its calls' statuses and error codes.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from chronoq import (
    App,
    Backoff,
    Client,
    EnqueuedJob,
    JobRequest,
    Ledger,
    LedgerConflict,
    NotInJob,
    Permanent,
    RateLimited,
    ScheduleDef,
    Task,
    current_job,
)
from chronoq.connectors.posting.accounts import ACCOUNTS, Account, sync_one
from chronoq.connectors.posting.api import ChunkRule, TikTokClient
from chronoq.connectors.posting.attempts import NAMESPACE, Attempt, AttemptLog, read_attempts
from chronoq.connectors.posting.flow import PublishRun
from chronoq.connectors.posting.model import (
    DONE,
    PRIVACY_LEVELS,
    RESUMABLE,
    PostResult,
    PostState,
    PostView,
    check_post_id,
    instant,
)
from chronoq.connectors.posting.tokens import TokenManager

POSTS_TTL = 400 * 86400.0  # a post may be scheduled months ahead
PUBLISH_TASK = "posting.publish"
SYNC_TASK = "posting.sync_accounts"
SCHEDULER_OWNER = "schedule_post"


class Poster:
    """Publishing for one app and one platform client; registers the tasks
    `posting.publish` and `posting.sync_accounts` on `app`."""

    def __init__(
        self,
        app: App,
        api: TikTokClient,
        *,
        tokens: TokenManager | None = None,
        ledger: str = "posting",
        queue: str = "posting",
        max_retries: int = 5,
        backoff: Backoff | None = None,
        chunks: ChunkRule | None = None,
        poll_every: float = 5.0,
        poll_for: float = 120.0,
        rate: str | None = "6/min",
    ) -> None:
        self.app = app
        self.api = api
        self.tokens = tokens or TokenManager(app, api)
        self.ledger_name = ledger
        self.chunks = chunks or ChunkRule()
        self.poll_every = poll_every
        self.poll_for = poll_for
        self.accounts: dict[str, Account] = {}
        self._client: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        limit = None
        if rate is not None:  # TikTok allows 6 inits a minute per user token
            limit = app.limit(f"{queue}.publish", rate).name
        self.publish_task: Task = app.task(
            name=PUBLISH_TASK,
            queue=queue,
            max_retries=max_retries,
            backoff=backoff or Backoff(base=30.0, maximum=1800.0),
            lock="posting:{post_id}",
            account="{account}",
            rate_limit=limit,
        )(self._publish_job)
        self.sync_task: Task = app.task(name=SYNC_TASK, queue=queue, max_retries=2)(
            self.sync_accounts
        )

    # -- declarations ---------------------------------------------------------

    def account(self, name: str, *, zone: str = "UTC") -> Account:
        """Declare an account and its author's time zone (naive times are read in it)."""
        if name in self.accounts:
            raise ValueError(f"account {name!r} is declared twice")
        made = Account(name, zone)
        self.accounts[name] = made
        return made

    def schedule_sync(self, spec: str = "0 3 * * *", *, tz: str | None = None) -> ScheduleDef:
        """Declare the daily `posting.sync_accounts` run (cron in `tz`, default the app's)."""
        return self.app.schedule(SYNC_TASK, spec, self.sync_task, tz=tz)

    # -- Redis handles (one client per event loop) -----------------------------

    def client(self) -> Client:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client, self._loop = self.app.client(), loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = None
        await self.api.aclose()

    @property
    def ledger(self) -> Ledger:
        return self.app.ledger(self.ledger_name, ttl=POSTS_TTL)

    # -- scheduling ------------------------------------------------------------

    async def schedule_post(
        self,
        post_id: str,
        *,
        at: datetime | tuple[datetime, str],
        account: str,
        video: str,
        title: str = "",
        privacy_level: str = "SELF_ONLY",
        inbox: bool = False,
        post_info: dict[str, Any] | None = None,
        stale_after: float | None = None,
    ) -> EnqueuedJob:
        """Record the post and enqueue its publish job for the instant `at`: an
        aware datetime, `(naive, zone)`, or a naive datetime in the account's zone.
        `stale_after`: seconds after `at` past which the post is not started at all
        (the job expires). Idempotent for the same post and definition."""
        check_post_id(post_id)
        author = self.accounts.get(account)
        if author is None:
            raise ValueError(f"account: {account!r} is not declared (poster.account)")
        when = instant(at, author.zone)
        if privacy_level not in PRIVACY_LEVELS:
            raise ValueError(f"privacy_level: {privacy_level!r} is not one of {PRIVACY_LEVELS}")
        if not isinstance(video, str) or not video:
            raise ValueError("video: give the path of the video file")
        info = {"title": title, "privacy_level": privacy_level, **(post_info or {})}
        definition = {
            "account": account,
            "video": video,
            "inbox": inbox,
            "post_info": info,
            "at": when.isoformat(),
            "zone": author.zone,
        }
        await self._record(post_id, definition)
        deadline = when + timedelta(seconds=stale_after) if stale_after is not None else None
        request = JobRequest(
            self.publish_task,
            kwargs={"post_id": post_id, "account": account},
            at=when,
            deadline=deadline,
            unique_key=f"posting:{post_id}",
        )
        return await self.client().submit(request)

    async def _record(self, post_id: str, definition: dict[str, Any]) -> None:
        try:
            await self.ledger.claim(
                post_id,
                PostState.SCHEDULED,
                owner=SCHEDULER_OWNER,
                from_states=[None],
                data=definition,
            )
        except LedgerConflict as exc:
            entry = exc.entry
            same = entry is not None and all(entry.data.get(k) == v for k, v in definition.items())
            if entry is None or entry.state != PostState.SCHEDULED or not same:
                state = entry.state if entry is not None else "gone"
                raise ValueError(
                    f"post_id: {post_id!r} exists already ({state}) with "
                    "another definition or past scheduling"
                ) from exc

    # -- reading ---------------------------------------------------------------

    async def post(self, post_id: str) -> PostView | None:
        entry = await self.ledger.get(post_id)
        if entry is None:
            return None
        history = [(state, when.isoformat()) for state, when in entry.history]
        return PostView.from_entry(entry.key, entry.state, entry.data, history)

    async def attempts(self, post_id: str) -> list[Attempt]:
        """Every publish attempt of the post, oldest first, with each call's HTTP
        status and platform error code."""
        return await read_attempts(self.client().records(NAMESPACE), post_id)

    async def account_info(self, name: str) -> dict[str, Any] | None:
        """What the last sync stored for the account (display name, limits, error)."""
        info: dict[str, Any] | None = await self.client().records(ACCOUNTS).get(name)
        return info

    # -- the tasks ---------------------------------------------------------------

    async def _publish_job(self, post_id: str, account: str) -> dict[str, Any]:
        return (await self.publish(post_id)).to_dict()

    async def publish(self, post_id: str) -> PostResult:
        """Publish a recorded post once (what the `posting.publish` job runs)."""
        job, job_attempt, owner = _run_identity()
        entry = await self.ledger.get(post_id)
        if entry is None:
            raise Permanent(f"post {post_id!r} is not recorded (schedule it with schedule_post)")
        if entry.state in DONE:
            data = entry.data
            return PostResult(
                post_id,
                entry.state,
                str(data.get("publish_id", "")),
                list(data.get("post_ids", [])),
                already=True,
            )
        if entry.state not in RESUMABLE:
            raise Permanent(str(entry.data.get("reason") or f"post {post_id!r} {entry.state}"))
        await self._check_privacy(entry.data)
        target = PostState.INITIALIZING if entry.state == PostState.SCHEDULED else entry.state
        claimed = await self.ledger.claim(post_id, target, owner=owner, from_states=[entry.state])
        log = AttemptLog(self.client().records(NAMESPACE), post_id, job, job_attempt)
        await log.begin()
        run = PublishRun(
            ledger=self.ledger,
            api=self.api,
            tokens=self.tokens,
            log=log,
            owner=owner,
            chunks=self.chunks,
            poll_every=self.poll_every,
            poll_for=self.poll_for,
        )
        try:
            result = await run.run(claimed)
        except BaseException as exc:
            await log.end(_outcome_name(exc), str(exc))
            raise
        await log.end(result.state)
        return result

    async def _check_privacy(self, data: dict[str, Any]) -> None:
        """TikTok asks apps to post only with a privacy level the creator offers
        (creator_info, stored by the sync): refuse early rather than at init."""
        info = await self.account_info(str(data.get("account", ""))) or {}
        options = info.get("limits", {}).get("privacy_level_options")
        level = (data.get("post_info") or {}).get("privacy_level")
        if options and not data.get("inbox") and level not in options:
            raise Permanent(
                f"privacy_level_option_mismatch: {level!r} is not one of the "
                f"creator's options {options} (synced {info.get('synced_at')})"
            )

    async def sync_accounts(self) -> dict[str, Any]:
        """Fetch each declared account's user info and creator limits and store them
        (what `posting.sync_accounts` runs daily). An account that fails is
        recorded with its error; the others still sync."""
        records = self.client().records(ACCOUNTS)
        synced: list[str] = []
        failed: dict[str, str] = {}
        for name in sorted(self.accounts):
            error = await sync_one(records, self.api, self.tokens, name)
            if error is None:
                synced.append(name)
            else:
                failed[name] = error
        return {"synced": synced, "failed": failed, "at": datetime.now(UTC).isoformat()}


def _run_identity() -> tuple[str, int, str]:
    """(job id, attempt, owner token): a rerun after a crash is another owner."""
    try:
        job = current_job()
    except NotInJob:
        made = f"call-{uuid.uuid4().hex}"
        return made, 1, made
    return job.id, job.attempt, f"{job.id}:{job.attempt}"


def _outcome_name(exc: BaseException) -> str:
    if isinstance(exc, RateLimited):
        return "deferred"
    if isinstance(exc, Permanent):
        return "failed"
    if isinstance(exc, Exception):
        return "retry"
    return "interrupted"
