"""The local TikTok platform the posting tests talk to: the emulator shipped in
src (chronoq.connectors.posting.emulator, which the demo app also starts), on a
free loopback port, with chunks small enough for tests (64-128 KiB)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chronoq.connectors.posting import TikTokEmulator
from tests.connectors.posting.post_app import CHUNKS


@pytest.fixture
def tiktok() -> Iterator[TikTokEmulator]:
    emulator = TikTokEmulator(min_chunk=CHUNKS.minimum, max_chunk=CHUNKS.maximum)
    emulator.start()
    yield emulator
    emulator.stop()
