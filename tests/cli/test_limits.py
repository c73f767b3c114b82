"""`chronoq limits list|show|set|rm` and `chronoq quotas`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import chronoq
from chronoq.control.limiter import Limiter, LimitRequest
from chronoq.redis.connection import connect
from chronoq.redis.keys import Keyspace
from chronoq.redis.limits import LimitStore
from tests.cli.helpers import Cli


def use(redis_url: str, prefix: str, name: str, key: str, times: int) -> None:
    async def go() -> None:
        redis = connect(redis_url)
        await Limiter(LimitStore(redis, Keyspace(prefix))).decide(name, [LimitRequest(key)] * times)
        await redis.aclose()

    asyncio.run(go())


def test_set_show_list_and_change_a_limit(cli: Cli, redis_url: str, prefix: str) -> None:
    created = cli(
        "limits", "set", "linkedin", "--rate", "100/day", "--burst", "5", "--min-gap", "30",
        "--window", "mon-fri 09:00-18:00", "--tz", "Europe/Paris", "--json",
    ).json()  # fmt: skip
    assert created == {
        "name": "linkedin",
        "kind": "rate",
        "limit": 100,
        "period": "day",
        "burst": 5,
        "min_gap": 30.0,
        "windows": ["mon,tue,wed,thu,fri 09:00-18:00"],
        "tz": "Europe/Paris",
    }
    changed = cli("limits", "set", "linkedin", "--rate", "200/day", "--json").json()
    assert (changed["limit"], changed["burst"], changed["tz"]) == (200, 5, "Europe/Paris")
    assert cli("limits", "set", "linkedin", "--always", "--json").json()["windows"] == []

    use(redis_url, prefix, "linkedin", "account:7", 3)
    shown = cli("limits", "show", "linkedin", "--json").json()
    (key,) = shown["keys"]
    assert (key["key"], key["limit"]) == ("account:7", 200)
    assert key["used"] == 3 and key["utilization"] == 0.015
    assert key["next_allowed"] > "2026"  # ISO 8601, 30 s after the last start (min gap)
    listed = cli("limits", "list", "--json").json()
    assert [row["name"] for row in listed] == ["linkedin"]
    table = cli("limits", "show", "linkedin")
    assert table.code == 0 and "account:7" in table.out and "2%" in table.out


def test_quotas_show_use_per_account_in_its_zone(cli: Cli, redis_url: str, prefix: str) -> None:
    assert cli("limits", "set", "emails", "--rate", "3/day", "--quota").code == 0
    zoned = cli("quotas", "zone", "acme", "Asia/Tokyo", "--json").json()
    assert zoned == {"account": "acme", "zone": "Asia/Tokyo"}
    use(redis_url, prefix, "emails", "acme", 4)
    use(redis_url, prefix, "emails", "globex", 1)
    (quota,) = cli("quotas", "--json").json()
    accounts = {row["key"]: row for row in quota["keys"]}
    assert accounts["acme"]["used"] == 3 and accounts["acme"]["zone"] == "Asia/Tokyo"
    assert accounts["acme"]["next_allowed"].endswith("15:00:00+00:00")  # Tokyo midnight
    assert accounts["globex"]["used"] == 1
    only = cli("quotas", "--account", "globex", "--json").json()
    assert [row["key"] for row in only[0]["keys"]] == ["globex"]
    assert "acme" in cli("quotas").out


def test_limit_commands_refuse_bad_input_with_a_message(cli: Cli) -> None:
    for args, message in [
        (("limits", "set", "x"), "limit 'x' does not exist yet: give --rate"),
        (("limits", "set", "x", "--rate", "5/fortnight"), "unknown period 'fortnight'"),
        (("limits", "set", "x", "--rate", "5/min", "--window", "9-5"), "bad window '9-5'"),
        (("limits", "set", "x", "--rate", "5/min", "--tz", "Mars/Base"), "unknown time zone"),
        (("limits", "set", "x", "--rate", "5/min", "--quota"), "per hour or per day"),
        (("limits", "show", "missing"), "no limit named 'missing'"),
        (("limits", "rm", "missing"), "no limit named 'missing'"),
        (("quotas", "--name", "missing"), "no quota named 'missing'"),
        (("quotas", "zone", "acme", "Mars/Base"), "unknown time zone 'Mars/Base'"),
    ]:
        result = cli(*args)
        assert result.code == 2 and message in result.err, (args, result.err)


def test_removing_a_limit(cli: Cli) -> None:
    cli("limits", "set", "gone", "--rate", "1/s")
    assert cli("limits", "rm", "gone", "--json").json() == {"name": "gone", "removed": True}
    assert cli("limits", "list", "--json").json() == []


def test_windows_with_their_own_rate_from_the_command_line(cli: Cli) -> None:
    made = cli(
        "limits", "set", "posts", "--rate", "60/h", "--window-rate", "mon-fri 09:00-17:00=10/h",
        "--window-rate", "sat,sun 00:00-24:00=forbid", "--tz", "America/New_York", "--json",
    ).json()  # fmt: skip
    assert made["window_rates"] == [
        ["mon,tue,wed,thu,fri 09:00-17:00", "10/hour"],
        ["sat,sun 00:00-24:00", "forbid"],
    ]
    assert "09:00-17:00=10/hour" in cli("limits", "show", "posts").out
    assert "sat,sun 00:00-24:00=forbid" in cli("limits", "list").out
    assert "window_rates" not in cli("limits", "set", "posts", "--always", "--json").json()
    bad = cli("limits", "set", "posts", "--window-rate", "mon-fri 09:00-17:00")
    assert bad.code == 2 and "write it like 'mon-fri 09:00-17:00=30/h'" in bad.err
    bad = cli("limits", "set", "posts", "--window-rate", "mon 09:00-17:00=fast")
    assert bad.code == 2 and "bad rule 'fast'" in bad.err


def test_version(cli: Cli) -> None:
    result = cli.raw("--version")
    assert (result.code, result.out.strip()) == (0, f"chronoq {chronoq.__version__}")
    assert chronoq.__version__[0].isdigit()


def test_quotas_usage_shows_use_per_account_per_local_day(
    cli: Cli, redis_url: str, prefix: str
) -> None:
    assert cli("limits", "set", "emails", "--rate", "3/day", "--quota").code == 0

    async def go() -> None:
        redis = connect(redis_url)
        store = LimitStore(redis, Keyspace(prefix), use_keep_ms=86_400_000)
        await Limiter(store).decide("emails", [LimitRequest("acme")] * 2)
        await Limiter(store).decide("emails", [LimitRequest("globex")])
        await redis.aclose()

    asyncio.run(go())
    (quota,) = cli("quotas", "usage", "--days", "2", "--json").json()
    today = datetime.now(UTC).date().isoformat()
    assert quota["days"] == {today: {"acme": 2, "globex": 1}}
    assert [(a["account"], a["peak"], a["day_cap"]) for a in quota["top"]] == [
        ("acme", 2, 3),
        ("globex", 1, 3),
    ]
    assert "acme" in cli("quotas", "usage", "--name", "emails").out
    assert cli("quotas", "usage", "--name", "nope").err.strip().endswith("no quota named 'nope'")
    assert "days must be within" in cli("quotas", "usage", "--days", "0").err
