from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.connectors.email.smtp_server import smtp_server
from tests.fault.helpers import ServerProcess

__all__ = ["own_server", "smtp_server"]  # the local SMTP server of the campaign fault tests


@pytest.fixture
def own_server() -> Iterator[ServerProcess]:
    folder = Path(tempfile.mkdtemp(prefix="cq-srv-"))
    server = ServerProcess(folder)
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(folder, ignore_errors=True)
