"""A schedule made in code, on the command line or as a bare definition gets the same
`grace` (60 s, as the README states): a run 90 s late is missed everywhere alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from chronoq import App
from chronoq.schedule.model import DEFAULT_GRACE, Misfire, ScheduleDef
from tests.cli.helpers import Cli

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_the_default_grace_is_60_seconds() -> None:
    assert DEFAULT_GRACE == 60.0
    assert ScheduleDef("s", "t", "@hourly").grace == 60.0


def test_app_schedule_defaults_grace_to_60_seconds() -> None:
    app = App("defaults")
    declared = app.schedule("hourly", "0 * * * *", "t", misfire=Misfire.SKIP)
    assert declared.grace == 60.0
    # What the default decides: 50 s late still fires, 90 s late is missed (skipped).
    assert declared.runs_to_fire(T0, T0 + timedelta(seconds=50)) == [T0]
    assert declared.runs_to_fire(T0, T0 + timedelta(seconds=90)) == []


def test_cli_add_and_app_schedule_store_the_same_grace(cli: Cli, app: App) -> None:
    added = cli("schedules", "add", "from-cli", "--task", "t", "--spec", "@hourly", "--json")
    assert added.json()["grace"] == 60.0

    app.schedule("from-code", "@hourly", "t")

    async def store_declared() -> None:
        async with app.backend() as backend:
            store = backend.schedules
            await store.sync_declared(app.declared_schedules.values())

    asyncio.run(store_declared())
    shown = cli("schedules", "show", "from-code", "--json").json()
    assert shown["grace"] == added.json()["grace"] == 60.0
