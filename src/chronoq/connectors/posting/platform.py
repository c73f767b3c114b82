"""The emulated TikTok platform's state and rules, without HTTP (emulator.py
serves it): accounts and their tokens, uploads and their status, the platform's
limits, and a script of faults a test or demo sets.

What it follows, from TikTok's public Content Posting and Login Kit docs:
- OAuth v2 refresh: a refresh returns a NEW refresh token and the old one is
  refused from then on with `invalid_grant` (rotation); access tokens expire after
  `expires_in` seconds and are then refused with 401 `access_token_invalid`;
- init: `source_info` FILE_UPLOAD with `video_size`, `chunk_size`,
  `total_chunk_count` (a video under the minimum chunk is one chunk; otherwise
  chunks of min..max bytes, `total_chunk_count = video_size // chunk_size`, the
  last chunk taking the remainder); it answers `publish_id` and `upload_url`;
- upload: PUTs of one chunk each with `Content-Range: bytes a-b/total`, in order;
  206 until the last, 201 for it;
- status: PROCESSING_UPLOAD (with `uploaded_bytes`) until the upload is complete
  and processed, then PUBLISH_COMPLETE (direct post) or SEND_TO_USER_INBOX (inbox
  upload), or FAILED with a `fail_reason`;
- limits: init 6 and status 30 requests per minute per access token (429
  `rate_limit_exceeded` with Retry-After), a daily post cap per creator (403
  `spam_risk_too_many_posts`), an unaudited client may only post SELF_ONLY (403
  `unaudited_client_can_only_post_to_private_accounts`).
Every reply uses the envelope {"data": ..., "error": {"code", "message", "log_id"}}.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MIB = 1024 * 1024
PRIVACY_LEVELS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
Reply = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers


def _log_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper()


def envelope(status: int, code: str = "ok", message: str = "", data: Any = None) -> Reply:
    body = {
        "data": data if data is not None else {},
        "error": {"code": code, "message": message, "log_id": _log_id()},
    }
    return status, body, {}


@dataclass
class Fault:
    """One scripted reply for the next request to an endpoint."""

    status: int
    code: str
    message: str = ""
    retry_after: str | None = None


@dataclass
class Seen:
    """A request the platform answered: its endpoint, HTTP status and error code."""

    endpoint: str
    status: int
    code: str
    at: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Account:
    open_id: str
    display_name: str
    username: str
    refresh_token: str
    refresh_expires_at: float
    privacy_options: list[str] = field(default_factory=lambda: list(PRIVACY_LEVELS))
    max_duration: int = 600
    posts: deque[float] = field(default_factory=deque)  # inits in the last day


@dataclass
class Upload:
    publish_id: str
    upload_id: str
    upload_token: str
    open_id: str
    mode: str  # "direct" or "inbox"
    video_size: int
    chunk_size: int
    total_chunks: int
    post_info: dict[str, Any]
    received: int = 0  # bytes, in order
    digest: list[bytes] = field(default_factory=list)  # each chunk as received
    polls_left: int = 0  # status fetches still answered PROCESSING_UPLOAD once uploaded
    status: str = "PROCESSING_UPLOAD"
    fail_reason: str | None = None
    post_id: str | None = None

    def chunk_range(self, index: int) -> tuple[int, int]:
        first = index * self.chunk_size
        last = (
            self.video_size - 1 if index == self.total_chunks - 1 else first + self.chunk_size - 1
        )
        return first, last

    @property
    def complete(self) -> bool:
        return self.received == self.video_size


@dataclass
class Hold:
    """Hold the upload of chunk `index` (before or after storing it) until released:
    a test SIGKILLs the uploader meanwhile."""

    index: int
    after_store: bool
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class Platform:
    """All state, behind one lock (the HTTP server is threaded)."""

    def __init__(
        self,
        *,
        client_key: str = "emulator-client-key",
        client_secret: str = "emulator-client-secret",
        access_ttl: float = 86400.0,
        refresh_ttl: float = 365 * 86400.0,
        min_chunk: int = 5 * MIB,
        max_chunk: int = 64 * MIB,
        processing_polls: int = 1,
        init_per_minute: int = 6,
        status_per_minute: int = 30,
        posts_per_day: int = 15,
        audited: bool = True,
        refresh_delay: float = 0.0,
    ) -> None:
        self.client_key = client_key
        self.client_secret = client_secret
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.min_chunk = min_chunk
        self.max_chunk = max_chunk
        self.processing_polls = processing_polls
        self.init_per_minute = init_per_minute
        self.status_per_minute = status_per_minute
        self.posts_per_day = posts_per_day
        self.audited = audited
        self.refresh_delay = refresh_delay  # seconds a refresh takes (widens races)
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.access: dict[str, tuple[str, float]] = {}  # access token -> (open_id, expires)
        self.uploads: dict[str, Upload] = {}  # publish_id -> upload
        self.by_upload_id: dict[str, Upload] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.fail_processing: str | None = None  # the next processed upload FAILS so
        self.hold: Hold | None = None
        self.seen: list[Seen] = []
        self._calls: dict[tuple[str, str], deque[float]] = {}  # (endpoint, token) -> times

    # -- what a test or demo sets up and reads -----------------------------

    def authorize(self, name: str, display_name: str | None = None) -> dict[str, Any]:
        """A user consented (what the authorization-code exchange returns): a new
        account `name` (its open_id) with fresh tokens."""
        with self.lock:
            refresh = "rft." + secrets.token_urlsafe(24)
            self.accounts[name] = Account(
                name, display_name or name.title(), name, refresh, time.time() + self.refresh_ttl
            )
            return self._token_reply(self.accounts[name])

    def fail_next(
        self,
        endpoint: str,
        status: int,
        code: str,
        message: str = "",
        retry_after: str | None = None,
    ) -> None:
        """Answer the next request to `endpoint` (token, user_info, creator_info,
        init, upload, status) with this error."""
        with self.lock:
            self.faults.setdefault(endpoint, []).append(Fault(status, code, message, retry_after))

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now."""
        with self.lock:
            self.access = {t: (o, 0.0) for t, (o, _) in self.access.items()}

    def count(self, endpoint: str, status: int | None = None) -> int:
        with self.lock:
            return sum(
                1
                for s in self.seen
                if s.endpoint == endpoint and (status is None or s.status == status)
            )

    def published(self) -> list[Upload]:
        with self.lock:
            return [
                u
                for u in self.uploads.values()
                if u.status in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX")
            ]

    def record(self, endpoint: str, reply: Reply, **detail: Any) -> Reply:
        status, body, _ = reply
        error = body.get("error")
        code = error.get("code", "") if isinstance(error, dict) else str(error or "ok")
        with self.lock:
            self.seen.append(Seen(endpoint, status, code, time.time(), detail))
        return reply

    def scripted(self, endpoint: str) -> Reply | None:
        with self.lock:
            queued = self.faults.get(endpoint)
            fault = queued.pop(0) if queued else None
        if fault is None:
            return None
        if endpoint == "token":  # OAuth errors are flat: {"error", "error_description"}
            body = {"error": fault.code, "error_description": fault.message, "log_id": _log_id()}
            reply: Reply = (fault.status, body, {})
        else:
            reply = envelope(fault.status, fault.code, fault.message)
        if fault.retry_after is not None:
            reply[2]["Retry-After"] = fault.retry_after
        return reply

    # -- OAuth -------------------------------------------------------------

    def _token_reply(self, account: Account) -> dict[str, Any]:
        access = "act." + secrets.token_urlsafe(24)
        self.access[access] = (account.open_id, time.time() + self.access_ttl)
        return {
            "access_token": access,
            "expires_in": int(self.access_ttl),
            "open_id": account.open_id,
            "refresh_token": account.refresh_token,
            "refresh_expires_in": int(account.refresh_expires_at - time.time()),
            "scope": "user.info.basic,video.publish,video.upload",
            "token_type": "Bearer",
        }

    def refresh(self, form: dict[str, str]) -> Reply:
        if self.refresh_delay:
            time.sleep(self.refresh_delay)  # this request's thread only

        def refused(status: int, code: str, text: str) -> Reply:
            return status, {"error": code, "error_description": text, "log_id": _log_id()}, {}

        if form.get("client_key") != self.client_key or (
            form.get("client_secret") != self.client_secret
        ):
            return refused(401, "invalid_client", "Client key or secret is incorrect.")
        if form.get("grant_type") != "refresh_token":
            return refused(400, "unsupported_grant_type", "grant_type must be refresh_token.")
        with self.lock:
            token = form.get("refresh_token", "")
            account = next((a for a in self.accounts.values() if a.refresh_token == token), None)
            if account is None or account.refresh_expires_at < time.time():
                return refused(400, "invalid_grant", "Refresh token is invalid or expired.")
            account.refresh_token = "rft." + secrets.token_urlsafe(24)  # the old one is dead
            return 200, self._token_reply(account), {}

    def caller(self, authorization: str | None) -> Account | Reply:
        """The account an `Authorization: Bearer` header belongs to, or the 401."""
        token = (authorization or "").removeprefix("Bearer ").strip()
        with self.lock:
            found = self.access.get(token)
            if found is None or found[1] <= time.time():
                return envelope(
                    401,
                    "access_token_invalid",
                    "The access token is invalid or not found in the request.",
                )
            return self.accounts[found[0]]

    def throttled(self, endpoint: str, token: str, per_minute: int) -> Reply | None:
        """A sliding minute per (endpoint, access token): 429 beyond `per_minute`."""
        now = time.time()
        with self.lock:
            calls = self._calls.setdefault((endpoint, token), deque())
            while calls and calls[0] <= now - 60:
                calls.popleft()
            if len(calls) >= per_minute:
                reply = envelope(429, "rate_limit_exceeded", "API rate limit exceeded")
                reply[2]["Retry-After"] = str(max(1, int(calls[0] + 60 - now + 0.999)))
                return reply
            calls.append(now)
        return None

    # -- the Content Posting API ---------------------------------------------

    def user_info(self, account: Account, fields: list[str]) -> Reply:
        user = {
            "open_id": account.open_id,
            "union_id": "u-" + account.open_id,
            "avatar_url": f"https://avatars.invalid/{account.open_id}.jpeg",
            "display_name": account.display_name,
            "username": account.username,
        }
        return envelope(200, data={"user": {k: v for k, v in user.items() if k in fields}})

    def creator_info(self, account: Account) -> Reply:
        options = account.privacy_options if self.audited else ["SELF_ONLY"]
        return envelope(
            200,
            data={
                "creator_avatar_url": f"https://avatars.invalid/{account.open_id}.jpeg",
                "creator_username": account.username,
                "creator_nickname": account.display_name,
                "privacy_level_options": options,
                "comment_disabled": False,
                "duet_disabled": False,
                "stitch_disabled": False,
                "max_video_post_duration_sec": account.max_duration,
            },
        )

    def _chunking_error(self, source: dict[str, Any]) -> str | None:
        size, chunk, total = (
            source.get(k) for k in ("video_size", "chunk_size", "total_chunk_count")
        )
        if source.get("source") != "FILE_UPLOAD":
            return "source_info.source must be FILE_UPLOAD here"
        if not all(isinstance(v, int) and v > 0 for v in (size, chunk, total)):
            return "video_size, chunk_size and total_chunk_count must be positive integers"
        assert isinstance(size, int) and isinstance(chunk, int) and isinstance(total, int)
        if size < self.min_chunk:
            return None if (chunk == size and total == 1) else "a small video is one chunk"
        if not self.min_chunk <= chunk <= self.max_chunk:
            return f"chunk_size must be within {self.min_chunk}..{self.max_chunk} bytes"
        if total != size // chunk or total > 1000:
            return "total_chunk_count must be video_size // chunk_size (at most 1000)"
        return None

    def init(self, account: Account, body: dict[str, Any], mode: str, base_url: str) -> Reply:
        source = body.get("source_info")
        if not isinstance(source, dict):
            return envelope(400, "invalid_params", "source_info is required")
        problem = self._chunking_error(source)
        if problem is not None:
            return envelope(400, "invalid_params", problem)
        post_info = body.get("post_info") or {}
        if mode == "direct":
            privacy = post_info.get("privacy_level")
            if not self.audited and privacy != "SELF_ONLY":
                return envelope(
                    403,
                    "unaudited_client_can_only_post_to_private_accounts",
                    "Unaudited clients can only post to a private account",
                )
            if privacy not in account.privacy_options:
                return envelope(
                    400,
                    "privacy_level_option_mismatch",
                    f"privacy_level {privacy!r} is not one of the creator's options",
                )
        with self.lock:
            day_ago = time.time() - 86400
            while account.posts and account.posts[0] <= day_ago:
                account.posts.popleft()
            if len(account.posts) >= self.posts_per_day:
                return envelope(
                    403,
                    "spam_risk_too_many_posts",
                    "The daily post cap for this creator is reached",
                )
            account.posts.append(time.time())
            publish_id = (
                f"v_{'pub' if mode == 'direct' else 'inbox'}_file~v2-1.{secrets.randbelow(10**18)}"
            )
            upload = Upload(
                publish_id,
                secrets.token_hex(8),
                secrets.token_urlsafe(12),
                account.open_id,
                mode,
                source["video_size"],
                source["chunk_size"],
                source["total_chunk_count"],
                post_info,
            )
            self.uploads[publish_id] = upload
            self.by_upload_id[upload.upload_id] = upload
        url = f"{base_url}/upload/?upload_id={upload.upload_id}&upload_token={upload.upload_token}"
        return envelope(200, data={"publish_id": publish_id, "upload_url": url})

    def status(self, account: Account, body: dict[str, Any]) -> Reply:
        with self.lock:
            upload = self.uploads.get(str(body.get("publish_id", "")))
            if upload is None or upload.open_id != account.open_id:
                return envelope(400, "invalid_publish_id", "publish_id not found")
            if upload.complete and upload.status == "PROCESSING_UPLOAD":
                if upload.polls_left > 0:
                    upload.polls_left -= 1
                elif self.fail_processing is not None:
                    upload.status, upload.fail_reason = "FAILED", self.fail_processing
                    self.fail_processing = None
                elif upload.mode == "inbox":
                    upload.status = "SEND_TO_USER_INBOX"
                else:
                    upload.status, upload.post_id = (
                        "PUBLISH_COMPLETE",
                        str(secrets.randbelow(10**19)),
                    )
            data: dict[str, Any] = {"status": upload.status, "uploaded_bytes": upload.received}
            if upload.fail_reason:
                data["fail_reason"] = upload.fail_reason
            if upload.post_id:
                data["publicaly_available_post_id"] = [int(upload.post_id)]  # sic: TikTok's name
            return envelope(200, data=data)

    def chunk(self, upload_id: str, token: str, content_range: str | None, body: bytes) -> Reply:
        """One PUT to an upload URL (holding first when told to)."""
        with self.lock:
            upload = self.by_upload_id.get(upload_id)
            if upload is None or upload.upload_token != token:
                return envelope(404, "upload_not_found", "upload_url is invalid or expired")
            parsed = _content_range(content_range)
            if (
                parsed is None
                or parsed[2] != upload.video_size
                or parsed[1] - parsed[0] + 1 != len(body)
            ):
                return envelope(400, "invalid_params", f"bad Content-Range {content_range!r}")
            first, last, _ = parsed
            index = first // upload.chunk_size if upload.chunk_size else 0
            if index >= upload.total_chunks or upload.chunk_range(index) != (first, last):
                return envelope(416, "invalid_range", f"{first}-{last} is not a chunk boundary")
            hold = self.hold if self.hold is not None and self.hold.index == index else None
            if hold is not None:
                self.hold = None
        if hold is not None and not hold.after_store:
            hold.reached.set()
            hold.release.wait()
            return 0, {}, {}  # dropped: the sender was killed meanwhile
        reply = self._store(upload, index, first, body)
        if hold is not None:
            hold.reached.set()
            hold.release.wait()
        return reply

    def _store(self, upload: Upload, index: int, first: int, body: bytes) -> Reply:
        with self.lock:
            if first < upload.received:  # a chunk sent again after a lost reply
                if upload.digest[index] != body:
                    return envelope(416, "invalid_range", "a resent chunk differs")
            elif first != upload.received:
                return envelope(
                    416, "invalid_range", f"chunks go in order: expected byte {upload.received}"
                )
            else:
                upload.digest.append(body)
                upload.received += len(body)
                if upload.complete:
                    upload.polls_left = self.processing_polls
            return (201 if upload.complete else 206), {}, {}


def _content_range(value: str | None) -> tuple[int, int, int] | None:
    """`bytes 0-99/1000` -> (0, 99, 1000)."""
    if value is None or not value.startswith("bytes "):
        return None
    try:
        span, total = value[6:].split("/")
        first, last = span.split("-")
        parsed = int(first), int(last), int(total)
    except ValueError:
        return None
    return parsed if 0 <= parsed[0] <= parsed[1] < parsed[2] else None
