"""Run the command line in-process and capture what it prints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from chronoq.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


class Cli:
    """`chronoq` bound to one test's server and key prefix."""

    def __init__(self, capsys: pytest.CaptureFixture[str], redis_url: str, prefix: str) -> None:
        self.capsys = capsys
        self.redis_url = redis_url
        self.prefix = prefix

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main([*args, "--redis-url", self.redis_url, "--prefix", self.prefix])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def raw(self, *args: str) -> Result:
        """Without the server options (for errors about arguments themselves)."""
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)
