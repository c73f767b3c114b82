"""A post's states (its ledger entry), what a post is, and the time it runs at.

A post's ledger entry (keyed by the post id) goes:
scheduled -> initializing -> uploading -> processing -> published | inbox, or
failed from any of them. Each state is recorded BEFORE the step it names begins:
- initializing: a run is about to call init. A crash here may leave an init the
  platform answered with the reply lost: that publish never gets a byte, so it
  never posts (TikTok drops it when its upload URL expires); the next run inits
  again.
- uploading: the publish id and upload URL are stored, before the first chunk
  goes out; `chunks_done` grows as each chunk's 206/201 comes back. A rerun never
  inits again: it asks the status (uploaded bytes) and uploads the rest.
- processing: every chunk is acknowledged; a rerun only fetches the status.
- published (PUBLISH_COMPLETE), inbox (SEND_TO_USER_INBOX): done, never redone.
- failed: the platform refused the post (a 4xx code) or reported FAILED; the
  reason is kept. An operator may `ledger.delete(post_id)` and schedule it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

POST_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")


class PostState(StrEnum):
    SCHEDULED = "scheduled"
    INITIALIZING = "initializing"
    UPLOADING = "uploading"
    PROCESSING = "processing"
    PUBLISHED = "published"
    INBOX = "inbox"
    FAILED = "failed"


RESUMABLE = (PostState.SCHEDULED, PostState.INITIALIZING, PostState.UPLOADING, PostState.PROCESSING)
DONE = (PostState.PUBLISHED, PostState.INBOX)


@dataclass(frozen=True, slots=True)
class PostView:
    """A post as its ledger entry tells it."""

    post_id: str
    state: PostState
    account: str
    at: str  # the instant it was due, ISO 8601 UTC
    publish_id: str | None
    chunks_done: int
    total_chunks: int | None
    post_ids: list[str]
    reason: str | None
    history: list[tuple[str, str]]  # (state, when ISO)

    @classmethod
    def from_entry(
        cls, key: str, state: str, data: dict[str, Any], history: list[tuple[str, str]]
    ) -> PostView:
        return cls(
            key,
            PostState(state),
            str(data.get("account", "")),
            str(data.get("at", "")),
            data.get("publish_id"),
            int(data.get("chunks_done", 0)),
            data.get("total_chunks"),
            [str(p) for p in data.get("post_ids", [])],
            data.get("reason"),
            history,
        )


@dataclass(frozen=True, slots=True)
class PostResult:
    """What a publish run ended with: `already` when an earlier run had finished."""

    post_id: str
    state: str
    publish_id: str
    post_ids: list[str] = field(default_factory=list)
    already: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "state": self.state,
            "publish_id": self.publish_id,
            "post_ids": self.post_ids,
            "already": self.already,
        }


def check_post_id(post_id: str) -> str:
    if not isinstance(post_id, str) or not POST_ID.match(post_id):
        raise ValueError(f"post_id {post_id!r}: use 1-128 letters, digits, '_', '.', ':' or '-'")
    return post_id


def zone_of(name: str, what: str = "zone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{what}: unknown time zone {name!r}") from exc


def instant(at: datetime | tuple[datetime, str], default_zone: str) -> datetime:
    """The UTC instant of `at`: an aware datetime, or a naive wall-clock time with
    its zone (a tuple, or a bare naive datetime in `default_zone`: the author's).

    A wall time the zone skips (a spring-forward gap) is refused; one it repeats
    (the autumn fold) is the first unless the datetime has fold=1, as in Python."""
    if isinstance(at, tuple):
        if len(at) != 2 or not isinstance(at[0], datetime) or not isinstance(at[1], str):
            raise ValueError("at: give an aware datetime or (naive datetime, zone name)")
        wall, name = at
        if wall.tzinfo is not None:
            raise ValueError("at: with a zone name, give a naive (wall-clock) datetime")
    elif isinstance(at, datetime):
        if at.tzinfo is not None and at.utcoffset() is not None:
            return at.astimezone(UTC)
        wall, name = at, default_zone
    else:
        raise ValueError(f"at: expected a datetime or (datetime, zone), got {type(at).__name__}")
    zone = zone_of(name, "at")
    local = wall.replace(tzinfo=zone)
    there_and_back = local.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if there_and_back != wall.replace(fold=0):
        raise ValueError(
            f"at: {wall:%Y-%m-%d %H:%M} does not exist in {name} (the clocks skip it that day)"
        )
    return local.astimezone(UTC)
