"""`chronoq server`: the embedded Valkey that runs when no Redis URL is configured."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chronoq.cli.common import JsonOption, console, emit_json
from chronoq.core.settings import Settings
from chronoq.redis.embedded import EmbeddedServer

server = typer.Typer(help="The embedded server (used when no Redis URL is set).")

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Its data directory (default: CHRONOQ_DATA_DIR, ~/.chronoq)."),
]


def _embedded(data_dir: Path | None) -> EmbeddedServer:
    return EmbeddedServer(data_dir or Settings().data_dir)


@server.command()
def status(data_dir: DataDirOption = None, json_out: JsonOption = False) -> None:
    """Whether the embedded server runs, and its URL."""
    embedded = _embedded(data_dir)
    running = embedded.is_running()
    if json_out:
        emit_json({"running": running, "url": embedded.url, "data_dir": str(embedded.data_dir)})
    else:
        state = "running" if running else "not running"
        console().print(f"embedded server {state}: {embedded.url}")


@server.command()
def start(data_dir: DataDirOption = None) -> None:
    """Start it (commands that need it start it on their own)."""
    console().print(f"embedded server running: {_embedded(data_dir).ensure_running()}")


@server.command()
def stop(data_dir: DataDirOption = None) -> None:
    """Stop it, saving its data. Stop the workers first."""
    embedded = _embedded(data_dir)
    was_running = embedded.is_running()
    embedded.stop()
    console().print("embedded server stopped" if was_running else "embedded server was not running")
