"""`chronoq tokens create|list|revoke`: the bearer tokens of the HTTP API and the
dashboard. A new token is printed once; Redis keeps only its digest."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from chronoq.cli.common import (
    AppOption,
    CliError,
    JsonOption,
    PrefixOption,
    RedisUrlOption,
    Target,
    console,
    emit_json,
)
from chronoq.core.access import AuditEntry, parse_role
from chronoq.core.errors import ConfigurationError
from chronoq.redis.access import AccessStore

T = TypeVar("T")

tokens = typer.Typer(help="API and dashboard tokens (read, operate, admin).", no_args_is_help=True)


def _run(target: Target, action: Callable[[AccessStore], Awaitable[T]]) -> T:
    async def go() -> T:
        async with target.app.backend() as backend:
            return await action(backend.access)

    return asyncio.run(go())


@tokens.command()
def create(
    role: Annotated[
        str, typer.Option("--role", help="read, operate or admin.", show_default=False)
    ],
    name: Annotated[str, typer.Option("--name", help="A name to recognise it by.")] = "",
    as_json: JsonOption = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
) -> None:
    """Make a token and print it once (it cannot be shown again)."""
    try:
        chosen = parse_role(role)
    except ConfigurationError as exc:
        raise CliError(str(exc)) from None

    async def make(store: AccessStore) -> tuple[str, str]:
        record, visible = await store.create_token(name, chosen)
        await store.record(
            AuditEntry("cli", "tokens.create", target=record.id, detail={"role": chosen.value})
        )
        return record.id, visible

    token_id, visible = _run(Target.resolve(app, redis_url, prefix), make)
    if as_json:
        emit_json(
            {"token": visible, "id": token_id, "role": chosen.value, "name": name or token_id}
        )
        return
    typer.echo(visible)  # stdout holds the token alone: TOKEN=$(chronoq tokens create ...)
    typer.echo(f"token {token_id} ({chosen.value}); store it now: it is not shown again", err=True)


@tokens.command("list")
def list_tokens(
    as_json: JsonOption = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
) -> None:
    """The tokens (never their secrets)."""
    records = _run(Target.resolve(app, redis_url, prefix), lambda s: s.tokens())
    if as_json:
        emit_json([r.public() for r in records])
        return
    table = Table("id", "name", "role", "created")
    for r in records:
        created = datetime.fromtimestamp(r.created_ms / 1000, UTC).isoformat(timespec="seconds")
        table.add_row(r.id, r.name, r.role.value, created)
    console().print(table)


@tokens.command()
def revoke(
    token: Annotated[str, typer.Argument(metavar="ID|NAME", help="Token id or name.")],
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
) -> None:
    """Revoke a token (by id, or every token of a name): requests with it get 401."""

    async def go(store: AccessStore) -> int:
        revoked = await store.revoke(token)
        if revoked:
            await store.record(AuditEntry("cli", "tokens.revoke", target=token, count=len(revoked)))
        return len(revoked)

    count = _run(Target.resolve(app, redis_url, prefix), go)
    if not count:
        raise CliError(f"no token with id or name {token!r}", exit_code=1)
    console().print(f"revoked {count} token{'s' if count != 1 else ''}")
