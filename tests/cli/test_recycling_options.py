"""Bad recycling options are one line and exit status 2, before anything starts."""

from __future__ import annotations

import pytest

from tests.cli.helpers import Cli

APP = "tests.sample_app:app"


@pytest.mark.parametrize(
    ("command", "option"), [("worker", "--max-memory"), ("up", "--max-memory-per-process")]
)
@pytest.mark.parametrize("size", ["lots", "5XB", "0MB"])
def test_a_bad_size_is_one_line_naming_the_option(
    cli: Cli, command: str, option: str, size: str
) -> None:
    result = cli(command, APP, option, size)
    assert result.code == 2
    assert result.err.startswith(f"chronoq: error: {option}: invalid size {size!r}: ")
    assert result.err.count("\n") == 1 and result.out == ""


@pytest.mark.parametrize(
    ("command", "option"), [("worker", "--max-jobs"), ("up", "--max-jobs-per-process")]
)
@pytest.mark.parametrize("count", ["0", "-3", "many"])
def test_a_bad_job_count_is_a_usage_error(cli: Cli, command: str, option: str, count: str) -> None:
    result = cli(command, APP, option, count)
    assert result.code == 2
    assert result.err.startswith("chronoq: error: ") and option in result.err
    assert result.err.count("\n") == 1


def test_help_says_sizes_are_binary(cli: Cli) -> None:
    for command in ("worker", "up"):
        result = cli.raw(command, "--help")
        assert result.code == 0
        words = " ".join(result.out.replace("│", " ").split())  # the help's column, unwrapped
        assert "2^20 bytes" in words, result.out
