"""What every command shares: finding the app and the server, and printing.

Commands that only read or enqueue work without the app (`--app` is optional):
the server comes from `--redis-url`, then `CHRONOQ_REDIS_URL`, then the app's
settings, then the embedded server.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from chronoq.app import App
from chronoq.client import Client
from chronoq.core import serialization

T = TypeVar("T")
S = TypeVar("S")


class CliError(Exception):
    """A problem with what the user asked for: printed as one line, exit status 2
    (or `exit_code`)."""

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


RedisUrlOption = Annotated[
    str | None,
    typer.Option(
        "--redis-url",
        envvar="CHRONOQ_REDIS_URL",
        help="Redis URL (default: the app's setting, else the embedded server).",
        show_default=False,
    ),
]
PrefixOption = Annotated[
    str | None,
    typer.Option("--prefix", envvar="CHRONOQ_PREFIX", help="Key prefix.", show_default=False),
]
AppOption = Annotated[
    str | None,
    typer.Option(
        "--app",
        envvar="CHRONOQ_APP",
        help="module:attribute of the App, for its settings and task defaults.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def load_app(target: str) -> App:
    """Import `module:attribute` (the current directory is importable, as with uvicorn)."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise CliError(f"APP must look like module:attribute, got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CliError(f"cannot import {module_name!r}: {exc}") from exc
    found = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise CliError(f"{module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(found, App):
        raise CliError(f"{target} is a {type(found).__name__}, not a chronoq App")
    return found


@dataclass(frozen=True, slots=True)
class Target:
    """The app (possibly a blank one) with the command line's overrides applied."""

    app: App

    @classmethod
    def resolve(cls, app: str | None, redis_url: str | None, prefix: str | None) -> Target:
        base = load_app(app) if app else App("chronoq")
        overrides: dict[str, Any] = {}
        if redis_url:
            overrides["redis_url"] = redis_url
        if prefix:
            overrides["prefix"] = prefix
        if overrides:
            base.settings = base.settings.model_copy(update=overrides)
        return cls(base)

    def with_client(self, action: Callable[[Client], Awaitable[T]]) -> T:
        """Run `action` with a connected client on a fresh event loop."""
        return asyncio.run(self.with_async_client(action))

    async def with_async_client(self, action: Callable[[Client], Awaitable[T]]) -> T:
        async with self.app.client() as client:
            return await action(client)


def run_with(
    opener: Callable[[], AbstractAsyncContextManager[S]], action: Callable[[S], Awaitable[T]]
) -> T:
    """Run `action` on what `opener` yields (a store of the app), on a fresh loop."""

    async def go() -> T:
        async with opener() as opened:
            return await action(opened)

    return asyncio.run(go())


def console() -> Console:
    """Wide when not a terminal, so pipes and logs get whole ids, not folded ones."""
    out = Console()
    if not out.is_terminal:
        out = Console(width=max(out.width, 160))
    return out


PRETTY_MAX = 256 * 1024
"""Characters of JSON worth indenting; larger output is written out as it encodes
(json's fast encoder: indenting runs in pure Python, minutes for 50 MB)."""


def emit_json(value: Any) -> None:
    text = json.dumps(value, default=str)
    if len(text) <= PRETTY_MAX:
        text = json.dumps(value, indent=2, default=str)
    sys.stdout.write(text)
    sys.stdout.write("\n")


def read_json_option(text: str, what: str) -> str:
    """An option's JSON as given, from a file (`@path`) or from standard input (`-`)."""
    if text == "-":
        return sys.stdin.read()
    if text.startswith("@"):
        path = text[1:]
        try:
            with open(path, encoding="utf-8") as source:
                return source.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise CliError(f"{what}: cannot read {path!r}: {reason}") from None
    return text


def parse_json(text: str, what: str, kind: type) -> Any:
    try:
        value = serialization.loads(text, what=what, max_depth=serialization.MAX_DEPTH)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except ValueError as exc:  # nested too deep
        raise CliError(str(exc)) from None
    if not isinstance(value, kind):
        expected = "an array" if kind is list else "an object"
        raise CliError(f"{what} must be {expected} in JSON, got {type(value).__name__}")
    return value


def flush_quietly() -> None:
    with suppress(Exception):
        sys.stdout.flush()
