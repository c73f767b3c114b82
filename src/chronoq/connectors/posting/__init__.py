"""Scheduled post publishing, the TikTok Content Posting flow first: init, chunked
upload, status until published; the publish id persisted before upload so a
retry resumes instead of posting twice; a token manager that refreshes by
remaining lifetime under a lock per account and survives refresh-token rotation;
accounts synced daily; every attempt recorded with its status and error codes.

```
poster = Poster(app, TikTokClient(base_url, client_key, client_secret))
poster.account("acme", zone="Europe/Paris")
await poster.tokens.store("acme", oauth_reply)
await poster.schedule_post("p1", at=datetime(2025, 6, 2, 9, 0), account="acme",
                           video="/videos/p1.mp4", title="Hello")   # 09:00 Paris time
```

`TikTokEmulator` (emulator.py) serves the same API on loopback for tests and demos.
"""

from chronoq.connectors.posting.accounts import Account
from chronoq.connectors.posting.api import ChunkRule, PlatformError, Reply, TikTokClient
from chronoq.connectors.posting.attempts import Attempt, Call
from chronoq.connectors.posting.emulator import TikTokEmulator
from chronoq.connectors.posting.model import PostResult, PostState, PostView, instant
from chronoq.connectors.posting.poster import PUBLISH_TASK, SYNC_TASK, Poster
from chronoq.connectors.posting.tokens import TokenManager, TokenSet

__all__ = [
    "PUBLISH_TASK",
    "SYNC_TASK",
    "Account",
    "Attempt",
    "Call",
    "ChunkRule",
    "PlatformError",
    "PostResult",
    "PostState",
    "PostView",
    "Poster",
    "Reply",
    "TikTokClient",
    "TikTokEmulator",
    "TokenManager",
    "TokenSet",
    "instant",
]
