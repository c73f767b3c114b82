from __future__ import annotations

import asyncio
from typing import Any

from chronoq import App
from chronoq.core.access import AuditEntry, TokenRecord
from tests.cli.helpers import Cli


def _stored(app: App, token: str) -> tuple[TokenRecord | None, list[AuditEntry]]:
    async def read() -> Any:
        async with app.backend() as backend:
            return await backend.access.verify(token), await backend.access.audit()

    return asyncio.run(read())  # type: ignore[no-any-return]


def test_create_prints_the_token_once_and_stores_its_digest(cli: Cli, app: App) -> None:
    made = cli("tokens", "create", "--role", "admin", "--name", "ops", "--json").json()
    assert made["token"].startswith("cq_") and made["role"] == "admin"
    record, entries = _stored(app, made["token"])
    assert record is not None and record.name == "ops"
    assert entries[0].action == "tokens.create" and entries[0].actor == "cli"
    listed = cli("tokens", "list", "--json").json()
    assert listed == [{"id": made["id"], "name": "ops", "role": "admin",
                       "created_ms": listed[0]["created_ms"]}]  # fmt: skip
    assert made["token"] not in cli("tokens", "list").out


def test_plain_create_prints_the_token_on_its_own_line(cli: Cli) -> None:
    result = cli("tokens", "create", "--role", "read")
    assert result.code == 0
    assert result.out.strip().startswith("cq_") and len(result.out.splitlines()) == 1
    assert "not shown again" in result.err


def test_a_bad_role_is_refused(cli: Cli) -> None:
    result = cli("tokens", "create", "--role", "root")
    assert result.code == 2 and "unknown role 'root'" in result.err


def test_revoke_by_id(cli: Cli, app: App) -> None:
    made = cli("tokens", "create", "--role", "read", "--json").json()
    assert cli("tokens", "revoke", made["id"]).code == 0
    record, entries = _stored(app, made["token"])
    assert record is None and entries[0].action == "tokens.revoke"
    missing = cli("tokens", "revoke", made["id"])
    assert missing.code == 1 and "no token" in missing.err
