"""The app the posting connector's worker-process tests run (`chronoq worker
tests.connectors.posting.post_app:app`): one Poster on the emulator whose URL
comes from CHRONOQ_TEST_TIKTOK_URL; tests in process call `install` on their app.
"""

from __future__ import annotations

import os

from chronoq import App, Backoff
from chronoq.connectors.posting import ChunkRule, Poster, TikTokClient, TokenManager

KIB = 1024
CHUNKS = ChunkRule(minimum=64 * KIB, maximum=128 * KIB, preferred=64 * KIB)
CLIENT_KEY = "emulator-client-key"
CLIENT_SECRET = "emulator-client-secret"
ACCOUNT = "acme"
ZONE = "Asia/Kolkata"  # a half-hour offset


def install(app: App, url: str, *, margin: float = 300.0) -> Poster:
    api = TikTokClient(url, CLIENT_KEY, CLIENT_SECRET, timeout=20)
    poster = Poster(
        app,
        api,
        tokens=TokenManager(app, api, margin=margin, lock_timeout=20),
        chunks=CHUNKS,
        max_retries=3,
        backoff=Backoff(base=0.05, maximum=0.2),
        poll_every=0.05,
        poll_for=10.0,
        rate=None,
    )
    poster.account(ACCOUNT, zone=ZONE)
    poster.account("beta", zone="Europe/Paris")
    return poster


app = App("posttest")
poster = install(
    app,
    os.environ.get("CHRONOQ_TEST_TIKTOK_URL", "http://127.0.0.1:9"),
    margin=float(os.environ.get("CHRONOQ_TEST_TOKEN_MARGIN", "300")),
)
