"""`chronoq schedules` and `chronoq cron next`: exact output for scripts, clear errors."""

from __future__ import annotations

from tests.cli.helpers import Cli


def test_cron_next_json_lists_iso_times_with_offsets(cli: Cli) -> None:
    result = cli.raw(
        "cron", "next", "0 * * * *", "--tz", "America/New_York", "-n", "4",
        "--after", "2026-11-01T00:30", "--json",
    )  # fmt: skip
    assert result.json() == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",  # the repeated hour, at its second occurrence too
        "2026-11-01T02:00:00-05:00",
        "2026-11-01T03:00:00-05:00",
    ]


def test_cron_next_table_marks_the_daylight_saving_change(cli: Cli) -> None:
    result = cli.raw(
        "cron", "next", "30 2 * * *", "--tz", "Europe/Paris", "-n", "2",
        "--after", "2027-03-27T12:00+01:00",
    )  # fmt: skip
    assert result.code == 0
    assert "2027-03-28T03:00:00+02:00" in result.out  # 02:30 does not exist that day
    assert "UTC offset changes: +01:00 -> +02:00" in result.out
    assert "2027-03-28T01:00:00+00:00" in result.out


def test_cron_next_bad_input(cli: Cli) -> None:
    for args, message in [
        (("cron", "next", "61 * * * *"), "Bad minute"),
        (("cron", "next", "@daily", "--tz", "Mars/Base"), "unknown time zone 'Mars/Base'"),
        (("cron", "next", "@every -1m"), "bad duration"),
        (("cron", "next", "@daily", "--after", "soon"), "--after 'soon' is not an ISO 8601"),
    ]:
        result = cli.raw(*args)
        assert result.code == 2 and message in result.err, (args, result.err)


def test_schedule_lifecycle(cli: Cli) -> None:
    added = cli(
        "schedules", "add", "report", "--task", "app.report", "--spec", "30 2 * * *",
        "--tz", "Europe/Paris", "--args", "[1]", "--kwargs", '{"x": 2}', "--queue", "reports",
        "--json",
    ).json()  # fmt: skip
    assert added["name"] == "report" and added["tz"] == "Europe/Paris"
    assert added["next_due_local"].endswith(("T02:30:00+01:00", "T02:30:00+02:00"))
    assert [s["name"] for s in cli("schedules", "list", "--json").json()] == ["report"]
    assert cli("schedules", "show", "report", "--json").json()["queue"] == "reports"
    assert cli("schedules", "pause", "report", "--json").json()["next_due"] is None
    assert cli("schedules", "resume", "report", "--json").json()["next_due"] is not None
    nexts = cli("schedules", "next", "report", "-n", "3", "--after", "2027-03-27T12:00",
                "--json").json()  # fmt: skip
    assert nexts == [
        "2027-03-28T03:00:00+02:00",
        "2027-03-29T02:30:00+02:00",
        "2027-03-30T02:30:00+02:00",
    ]
    job = cli("schedules", "trigger", "report", "--force", "--json").json()
    assert job["queue"] == "reports" and job["created"]
    shown = cli("job", job["id"], "--json").json()
    assert shown["task"] == "app.report" and shown["args"] == [1] and shown["kwargs"] == {"x": 2}
    assert cli("schedules", "rm", "report", "--json").json() == {"removed": "report"}
    missing = cli("schedules", "rm", "report")
    assert missing.code == 2 and "no schedule named 'report'" in missing.err


def test_schedule_add_refuses_bad_input_with_its_reason(cli: Cli) -> None:
    base = ("schedules", "add", "x", "--task", "t")
    for extra, message in [
        (("--spec", "* * *"), "has 3 fields"),
        (("--spec", "@every 0s"), "positive duration"),
        (("--spec", "@daily", "--tz", "Foo/Bar"), "unknown time zone 'Foo/Bar'"),
        (("--spec", "@daily", "--start", "2027-01-02T00:00Z", "--end", "2027-01-01T00:00Z"),
         "ends (2027-01-01T00:00:00+00:00) before it starts"),
        (("--spec", "@daily", "--misfire", "sometimes"), "--misfire 'sometimes' is not one of"),
        (("--spec", "@daily", "--args", "{}"), "--args must be an array"),
        (("--spec", "@daily", "--queue", "no spaces"), "invalid queue name"),
    ]:  # fmt: skip
        result = cli(*base, *extra)
        assert result.code == 2 and message in result.err, (extra, result.err)
    assert cli("schedules", "list", "--json").json() == []
    cli(*base, "--spec", "@daily")
    again = cli(*base, "--spec", "@hourly")
    assert again.code == 2 and "exists" in again.err
    assert cli(*base, "--spec", "@hourly", "--replace", "--json").json()["spec"] == "@hourly"


def test_schedule_add_takes_a_deadline(cli: Cli) -> None:
    made = cli("schedules", "add", "post", "--task", "t", "--spec", "0 9 * * *",
               "--deadline", "600", "--json").json()  # fmt: skip
    assert made["deadline"] == 600
    bad = cli("schedules", "add", "late", "--task", "t", "--spec", "0 9 * * *", "--deadline", "-1")
    assert bad.code == 2 and "deadline must be a positive number" in bad.err
