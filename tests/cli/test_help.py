"""The help screens read as paragraphs: a command's docstring is wrapped to the
terminal, not broken where its source lines end."""

from __future__ import annotations

import pytest

from tests.cli.helpers import Cli


def test_command_summaries_are_wrapped_to_the_terminal(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "240")
    result = cli.raw("--help")
    assert result.code == 0
    up = next(line for line in result.out.splitlines() if line.startswith("│ up "))
    # One line at 240 columns; the docstring breaks after "a post and a".
    assert "a post and a scraped source on loopback platforms it starts itself" in up, result.out
    worker = cli.raw("worker", "--help")
    assert "exits 0 to be replaced" in worker.out
    lines = [line.strip() for line in worker.out.splitlines()]
    assert any(
        line.startswith("Logs one line per job outcome") and "--max-jobs" in line for line in lines
    )
