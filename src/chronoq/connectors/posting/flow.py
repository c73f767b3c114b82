"""One publish run of one post: init, chunked upload, status until done, each
step recorded in the post's ledger entry before it begins (model.py says what a
rerun does from each state), every call recorded in the attempt log.

The platform's answers become chronoq outcomes here, in one place:
- 429 `rate_limit_exceeded`: RateLimited with its Retry-After (no attempt spent;
  the task's rate-limit key waits as long);
- 5xx, a lost connection: the error itself, retried with the task's backoff (the
  rerun resumes: it never inits twice once a publish id is stored);
- 401 `access_token_invalid` (the token expired mid-flow): one refresh, then the
  call again;
- any other 4xx (`spam_risk_too_many_posts`,
  `unaudited_client_can_only_post_to_private_accounts`, ...) and a FAILED status:
  Permanent with the platform's code first in the reason, the post `failed`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from chronoq import Ledger, LedgerEntry, Permanent, RateLimited
from chronoq.connectors.posting.api import (
    ChunkRule,
    PlatformError,
    Reply,
    TikTokClient,
    chunk_range,
)
from chronoq.connectors.posting.attempts import AttemptLog
from chronoq.connectors.posting.model import PostResult, PostState
from chronoq.connectors.posting.tokens import TokenManager

DEFAULT_THROTTLE_WAIT = 60.0  # a 429 without a usable Retry-After
Authed = Callable[[str], Awaitable[Reply]]


class PublishRun:
    """Drives one claimed entry to its end (or to an outcome that ends the attempt)."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        api: TikTokClient,
        tokens: TokenManager,
        log: AttemptLog,
        owner: str,
        chunks: ChunkRule,
        poll_every: float,
        poll_for: float,
    ) -> None:
        self.ledger = ledger
        self.api = api
        self.tokens = tokens
        self.log = log
        self.owner = owner
        self.chunks = chunks
        self.poll_every = poll_every
        self.poll_for = poll_for
        self.key = ""
        self.data: dict[str, Any] = {}

    async def run(self, entry: LedgerEntry) -> PostResult:
        self.key, self.data = entry.key, dict(entry.data)
        state = PostState(entry.state)
        if state in (PostState.SCHEDULED, PostState.INITIALIZING):
            await self._init()
            state = PostState.UPLOADING
        elif state is PostState.UPLOADING:
            done = await self._resume_point()
            if done is not None:
                return done
        if state is PostState.UPLOADING:
            await self._upload()
        return await self._await_status()

    async def _save(self, state: PostState) -> None:
        await self.ledger.advance(self.key, state, owner=self.owner, data=self.data)

    # -- steps --------------------------------------------------------------

    def _video(self) -> Path:
        path = Path(str(self.data.get("video", "")))
        if not path.is_file():
            raise Permanent(f"post {self.key!r}: video: no file at {str(path)!r}")
        return path

    async def _init(self) -> None:
        size = self._video().stat().st_size
        try:
            chunk_size, total = self.chunks.plan(size)
        except ValueError as exc:
            raise Permanent(f"post {self.key!r}: video: {exc}") from exc
        self.data.update(video_size=size, chunk_size=chunk_size, total_chunks=total)
        await self._save(PostState.INITIALIZING)
        inbox = bool(self.data.get("inbox"))
        reply = await self._authed(
            "init",
            lambda token: self.api.init(
                token,
                video_size=size,
                chunk_size=chunk_size,
                total_chunk_count=total,
                post_info=self.data.get("post_info"),
                inbox=inbox,
            ),
        )
        self.data.update(
            publish_id=str(reply.data["publish_id"]),
            upload_url=str(reply.data["upload_url"]),
            chunks_done=0,
        )
        await self._save(PostState.UPLOADING)  # the publish id, before any byte is sent

    async def _resume_point(self) -> PostResult | None:
        """After a crash mid-upload: where the platform's upload stands (its
        uploaded bytes), or the result when it finished meanwhile."""
        reply = await self._status()
        finished = await self._settled(reply)
        if finished is not None:
            return finished
        uploaded = reply.data.get("uploaded_bytes")
        if isinstance(uploaded, int) and uploaded >= 0:
            size, chunk = int(self.data["video_size"]), int(self.data["chunk_size"])
            total = int(self.data["total_chunks"])
            self.data["chunks_done"] = total if uploaded >= size else min(total, uploaded // chunk)
        return None

    async def _upload(self) -> None:
        path = self._video()
        size, chunk = int(self.data["video_size"]), int(self.data["chunk_size"])
        total = int(self.data["total_chunks"])
        if path.stat().st_size != size:
            raise await self._refused(
                f"video_changed: post {self.key!r}: the video file is "
                f"no longer {size} bytes; not resumed"
            )
        for index in range(int(self.data.get("chunks_done", 0)), total):
            first, last = chunk_range(size, chunk, total, index)
            body = await asyncio.to_thread(_read, path, first, last - first + 1)
            await self._plain(
                self.api.put_chunk(str(self.data["upload_url"]), body, first, size),
                f"chunk {index + 1}/{total} bytes {first}-{last}",
            )
            self.data["chunks_done"] = index + 1
            await self._save(PostState.UPLOADING)
        await self._save(PostState.PROCESSING)

    async def _await_status(self) -> PostResult:
        deadline = time.monotonic() + self.poll_for
        while True:
            finished = await self._settled(await self._status())
            if finished is not None:
                return finished
            if time.monotonic() + self.poll_every > deadline:
                raise RateLimited(
                    self.poll_every,
                    f"post {self.key!r}: still processing at "
                    "the platform; its status is checked again later",
                )
            await asyncio.sleep(self.poll_every)

    async def _status(self) -> Reply:
        publish_id = str(self.data["publish_id"])
        return await self._authed("status", lambda token: self.api.status(token, publish_id))

    async def _settled(self, reply: Reply) -> PostResult | None:
        """The result of a final status (published, inbox), Permanent for FAILED,
        None while processing."""
        status = reply.data.get("status")
        if status == "FAILED":
            reason = reply.data.get("fail_reason") or "no fail_reason given"
            raise await self._refused(f"{reason}: tiktok reported the publish FAILED")
        if status not in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX"):
            return None
        ids = reply.data.get("publicaly_available_post_id") or []
        self.data["post_ids"] = [str(i) for i in ids] if isinstance(ids, list) else []
        state = PostState.PUBLISHED if status == "PUBLISH_COMPLETE" else PostState.INBOX
        await self._save(state)
        return PostResult(
            self.key, state.value, str(self.data["publish_id"]), list(self.data["post_ids"])
        )

    # -- calls and their outcomes -------------------------------------------

    async def _authed(self, endpoint: str, call: Authed) -> Reply:
        """A call with the account's access token; one refresh and one more try
        when the platform says the token is invalid (it expired mid-flow)."""
        account = str(self.data["account"])
        token = await self.tokens.access_token(account)
        for tries in (1, 2):
            try:
                reply = await call(token)
            except PlatformError as exc:
                await self.log.call(exc.reply, exc.message)
                if exc.status == 401 and exc.code == "access_token_invalid" and tries == 1:
                    token = (await self.tokens.refresh(account, stale=token)).access_token
                    continue
                raise await self._outcome(exc) from exc
            except httpx.TransportError as exc:
                await self.log.call(Reply(endpoint, 0, type(exc).__name__), str(exc))
                raise
            await self.log.call(reply)
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

    async def _plain(self, call: Awaitable[Reply], detail: str) -> Reply:
        try:
            reply = await call
        except PlatformError as exc:
            await self.log.call(exc.reply, f"{detail}: {exc.message}")
            raise await self._outcome(exc) from exc
        except httpx.TransportError as exc:
            await self.log.call(Reply("upload", 0, type(exc).__name__), f"{detail}: {exc}")
            raise
        await self.log.call(reply, detail)
        return reply

    async def _outcome(self, exc: PlatformError) -> Exception:
        if exc.status == 429:
            wait = exc.retry_after if exc.retry_after is not None else DEFAULT_THROTTLE_WAIT
            return RateLimited(
                wait,
                f"{exc.code}: tiktok {exc.reply.endpoint} answered "
                f"HTTP 429; retry after {wait:g} s",
            )
        if exc.status >= 500 or exc.status == 0:
            return exc  # the task's retries, with backoff
        return await self._refused(
            f"{exc.code}: tiktok {exc.reply.endpoint} answered HTTP {exc.status}"
            + (f": {exc.message}" if exc.message else "")
            + (f" (log_id {exc.reply.log_id})" if exc.reply.log_id else "")
        )

    async def _refused(self, reason: str) -> Permanent:
        """The post failed for good: recorded, and the Permanent to raise."""
        self.data["reason"] = reason
        await self._save(PostState.FAILED)
        return Permanent(reason)


def _read(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read(length)
