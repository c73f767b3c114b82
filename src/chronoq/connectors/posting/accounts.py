"""Accounts: declared in code with their author's time zone; synced daily from the
platform (user info, and the creator's posting limits from creator_info, which
TikTok asks apps to read before posting) into a chronoq record per account.

A sync that fails for one account (a revoked token, a 5xx, a 429) records the
error on that account's record, keeping what the last good sync stored, and the
other accounts still sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from chronoq import ChronoqError, Records
from chronoq.connectors.posting.api import PlatformError, TikTokClient
from chronoq.connectors.posting.model import zone_of
from chronoq.connectors.posting.tokens import TokenManager

ACCOUNTS = "posting-accounts"
LIMIT_FIELDS = (
    "privacy_level_options",
    "max_video_post_duration_sec",
    "comment_disabled",
    "duet_disabled",
    "stitch_disabled",
)


@dataclass(frozen=True, slots=True)
class Account:
    """A posting account (the key its tokens and posts are filed under) and the
    time zone its author schedules in."""

    name: str
    zone: str = "UTC"

    def __post_init__(self) -> None:
        if not self.name or "{" in self.name or "}" in self.name or len(self.name) > 128:
            raise ValueError(f"account name {self.name!r}: 1-128 characters, no braces")
        zone_of(self.zone, f"account {self.name!r} zone")


async def sync_one(
    records: Records, api: TikTokClient, tokens: TokenManager, name: str
) -> str | None:
    """Sync one account; None on success, else the error (also recorded)."""
    stored: dict[str, Any] = await records.get(name) or {"account": name}
    now = datetime.now(UTC).isoformat()
    try:
        token = await tokens.access_token(name)
        user = (await api.user_info(token)).data.get("user") or {}
        creator = (await api.creator_info(token)).data
    except (PlatformError, ChronoqError, httpx.HTTPError) as exc:
        stored.update(error=str(exc), error_at=now)
        await records.put(name, stored)
        return str(exc)
    stored.update(
        open_id=user.get("open_id"),
        display_name=user.get("display_name"),
        username=user.get("username") or creator.get("creator_username"),
        avatar_url=user.get("avatar_url"),
        limits={k: creator.get(k) for k in LIMIT_FIELDS},
        synced_at=now,
        error=None,
        error_at=None,
    )
    await records.put(name, stored)
    return None
