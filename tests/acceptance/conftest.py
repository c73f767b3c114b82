from __future__ import annotations

import pytest

from tests.cli.helpers import Cli


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], redis_url: str, prefix: str) -> Cli:
    return Cli(capsys, redis_url, prefix)
