"""Fixtures: the TikTok emulator (small chunks), a video file, a Poster on it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chronoq import App
from chronoq.connectors.posting import Poster, TikTokEmulator
from tests.connectors.posting.post_app import ACCOUNT, install
from tests.connectors.posting.tiktok_server import tiktok

__all__ = ["poster", "tiktok", "video"]

VIDEO_SIZE = 200 * 1024  # three chunks of 64 KiB, the last one taking the rest (72 KiB)


@pytest.fixture
def video(tmp_path: Path) -> str:
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(VIDEO_SIZE))
    return str(path)


@pytest.fixture
async def poster(app: App, tiktok: TikTokEmulator) -> AsyncIterator[Poster]:
    made = install(app, tiktok.url)
    await made.tokens.store(ACCOUNT, tiktok.platform.authorize(ACCOUNT))
    yield made
    await made.aclose()
