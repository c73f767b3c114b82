"""The TikTok Content Posting API over httpx: one method per endpoint, each
answering a `Reply` (HTTP status, platform error code, log id, data) or raising
`PlatformError` with the same fields, so the caller records every call the same
way and decides what an error means (poster.py). No policy here: no retries, no
token refresh.

Endpoints (TikTok's public docs; the base URL is configurable, loopback in tests):
POST /v2/oauth/token/ (form, grant_type=refresh_token), GET /v2/user/info/,
POST /v2/post/publish/creator_info/query/, POST /v2/post/publish/video/init/ (or
/inbox/video/init/), PUT <upload_url> one chunk with Content-Range, POST
/v2/post/publish/status/fetch/.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

import httpx

DEFAULT_BASE_URL = "https://open.tiktokapis.com"
MIB = 1024 * 1024
USER_FIELDS = "open_id,union_id,avatar_url,display_name,username"


@dataclass(frozen=True, slots=True)
class Reply:
    """One call's outcome: `code` is the platform's error code ("ok" on success)."""

    endpoint: str
    status: int
    code: str = "ok"
    log_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class PlatformError(Exception):
    """The platform refused a call (or answered something unreadable)."""

    def __init__(self, reply: Reply, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(
            f"tiktok {reply.endpoint}: HTTP {reply.status} {reply.code}"
            + (f": {message}" if message else "")
            + (f" (log_id {reply.log_id})" if reply.log_id else "")
        )
        self.reply = reply
        self.message = message
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return self.reply.status

    @property
    def code(self) -> str:
        return self.reply.code


@dataclass(frozen=True, slots=True)
class ChunkRule:
    """How a video is cut (TikTok: chunks of 5-64 MB, a video under 5 MB in one,
    `total_chunk_count = video_size // chunk_size`, the last chunk taking the rest;
    at most 1000 chunks). `preferred`: the chunk size used when it fits."""

    minimum: int = 5 * MIB
    maximum: int = 64 * MIB
    preferred: int = 10 * MIB

    def __post_init__(self) -> None:
        if not 0 < self.minimum <= self.preferred <= self.maximum:
            raise ValueError("ChunkRule needs 0 < minimum <= preferred <= maximum")

    def plan(self, video_size: int) -> tuple[int, int]:
        """(chunk_size, total_chunk_count) for a video of `video_size` bytes."""
        if video_size <= 0:
            raise ValueError(f"video_size must be > 0 bytes, got {video_size}")
        if video_size < self.minimum:
            return video_size, 1
        size = max(self.preferred, math.ceil(video_size / 1000))
        if size > self.maximum:
            raise ValueError(f"a video of {video_size} bytes needs more than 1000 chunks")
        size = min(size, video_size)
        return size, video_size // size


def chunk_range(video_size: int, chunk_size: int, total: int, index: int) -> tuple[int, int]:
    """The first and last byte of chunk `index` (the last chunk takes the rest)."""
    first = index * chunk_size
    return first, (video_size - 1 if index == total - 1 else first + chunk_size - 1)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


class TikTokClient:
    """`TikTokClient(base_url, client_key, client_secret)`; one httpx client per
    event loop (made on first use)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        client_key: str = "",
        client_secret: str = "",
        *,
        timeout: float = 60.0,
        upload_timeout: float = 600.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_key = client_key
        self.client_secret = client_secret
        self.timeout = timeout
        self.upload_timeout = upload_timeout
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            self._http = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout)
            self._loop = loop
        return self._http

    async def aclose(self) -> None:
        if self._http is not None and self._loop is asyncio.get_running_loop():
            await self._http.aclose()
        self._http = None

    def _envelope(self, endpoint: str, response: httpx.Response) -> Reply:
        """The reply of a JSON endpoint; PlatformError for an error envelope."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            reply = Reply(endpoint, response.status_code, "unreadable_reply")
            raise PlatformError(reply, response.text[:200], _retry_after(response))
        error = body.get("error")
        if isinstance(error, dict):  # the Content Posting envelope
            code, message = str(error.get("code") or "ok"), str(error.get("message") or "")
            log_id = str(error.get("log_id") or "")
        elif error:  # OAuth's flat form: {"error": "invalid_grant", "error_description"}
            code, message = str(error), str(body.get("error_description") or "")
            log_id = str(body.get("log_id") or "")
        else:
            code, message, log_id = "ok", "", str(body.get("log_id") or "")
        inner = body.get("data")
        data: dict[str, Any] = inner if isinstance(inner, dict) else body
        reply = Reply(endpoint, response.status_code, code, log_id, data)
        if response.status_code >= 400 or code != "ok":
            raise PlatformError(reply, message, _retry_after(response))
        return reply

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=UTF-8",
        }

    async def refresh(self, refresh_token: str) -> Reply:
        """grant_type=refresh_token; the reply's data holds the NEW refresh token."""
        form = {
            "client_key": self.client_key,
            "client_secret": self.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        response = await self.http().post(
            "/v2/oauth/token/",
            data=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cache-Control": "no-cache",
            },
        )
        return self._envelope("token", response)

    async def user_info(self, access_token: str, fields: str = USER_FIELDS) -> Reply:
        response = await self.http().get(
            "/v2/user/info/", params={"fields": fields}, headers=self._auth(access_token)
        )
        return self._envelope("user_info", response)

    async def creator_info(self, access_token: str) -> Reply:
        response = await self.http().post(
            "/v2/post/publish/creator_info/query/", headers=self._auth(access_token)
        )
        return self._envelope("creator_info", response)

    async def init(
        self,
        access_token: str,
        *,
        video_size: int,
        chunk_size: int,
        total_chunk_count: int,
        post_info: dict[str, Any] | None = None,
        inbox: bool = False,
    ) -> Reply:
        """Start a FILE_UPLOAD: the reply's data has `publish_id` and `upload_url`."""
        body: dict[str, Any] = {
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": video_size,
                "chunk_size": chunk_size,
                "total_chunk_count": total_chunk_count,
            }
        }
        if not inbox:
            body["post_info"] = post_info or {}
        path = "/v2/post/publish/inbox/video/init/" if inbox else "/v2/post/publish/video/init/"
        response = await self.http().post(path, json=body, headers=self._auth(access_token))
        reply = self._envelope("init", response)
        if not reply.data.get("publish_id") or not reply.data.get("upload_url"):
            raise PlatformError(
                Reply("init", reply.status, "no_publish_id", reply.log_id),
                "init answered no publish_id/upload_url",
            )
        return reply

    async def put_chunk(
        self, upload_url: str, data: bytes, first: int, total: int, content_type: str = "video/mp4"
    ) -> Reply:
        """PUT one chunk: 206 (more to come) or 201 (the last)."""
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}",
        }
        response = await self.http().put(
            upload_url, content=data, headers=headers, timeout=self.upload_timeout
        )
        if response.status_code in (200, 201, 206):
            return Reply("upload", response.status_code)
        self._envelope("upload", response)  # raises for an error envelope or an unreadable one
        raise PlatformError(Reply("upload", response.status_code, "upload_refused"))

    async def status(self, access_token: str, publish_id: str) -> Reply:
        """The publish's status: data has `status`, `fail_reason`, `uploaded_bytes`,
        `publicaly_available_post_id` (TikTok's spelling)."""
        response = await self.http().post(
            "/v2/post/publish/status/fetch/",
            json={"publish_id": publish_id},
            headers=self._auth(access_token),
        )
        return self._envelope("status", response)
