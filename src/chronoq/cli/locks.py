"""`chronoq locks`: the distributed locks held, and force release."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chronoq.cli.common import (
    AppOption,
    JsonOption,
    PrefixOption,
    RedisUrlOption,
    Target,
    console,
    emit_json,
    run_with,
)

locks = typer.Typer(help="Distributed locks: who holds them; force release.", no_args_is_help=True)


@locks.command("list")
def list_locks(
    held: Annotated[bool, typer.Option("--held", help="Only locks held now.")] = False,
    scan: Annotated[
        bool, typer.Option("--scan", help="Also SCAN for held locks the registry missed.")
    ] = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Locks by last acquire: holder (a digest of its token), fencing token, lease left."""
    target = Target.resolve(app, redis_url, prefix)
    found = run_with(target.app.lock_admin, lambda a: a.list(held_only=held, scan=scan))
    if json_out:
        emit_json([i.to_dict() for i in found])
        return
    table = Table(title="locks", title_justify="left")
    for column in ("name", "held", "holder", "fence", "lease left"):
        table.add_column(column)
    for info in found:
        left = f"{info.ttl_ms / 1000:.1f}s" if info.ttl_ms is not None and info.ttl_ms >= 0 else "-"
        table.add_row(info.name, "yes" if info.held else "no", info.holder or "-",
                      str(info.fence), left)  # fmt: skip
    console().print(table)


@locks.command("release")
def release(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Lock name.")],
    fence: Annotated[
        int | None, typer.Option("--fence", help="Only if still held at this fence.", min=1)
    ] = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Force release: the holder's next renewal fails (LockLost); the next holder gets
    a higher fence."""
    target = Target.resolve(app, redis_url, prefix)
    done = run_with(target.app.lock_admin, lambda a: a.force_release(name, fence=fence))
    if json_out:
        emit_json(done.to_dict())
    elif done.released:
        console().print(f"lock {name} released (its holder had fence {done.fence})")
    else:
        console().print(f"lock {name} was not held{' at that fence' if fence else ''}")
