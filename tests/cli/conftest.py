from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.cli.helpers import Cli


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], redis_url: str, prefix: str) -> Cli:
    return Cli(capsys, redis_url, prefix)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """An in-process `chronoq worker`/`up` configures logging onto the stream the test
    captured (closed after it): put the root logger back, so later tests' log records
    do not go to a closed file."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
