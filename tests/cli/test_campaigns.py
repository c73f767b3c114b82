"""`chronoq campaigns list|show|add|pause|resume|cancel|forecast` against a real
Redis; a campaign added from the command line is run by a real worker and shown."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis

from chronoq import App
from chronoq.campaigns import campaigns
from tests.campaign_shell_app import add_campaign_tasks, later, spec
from tests.cli.helpers import Cli
from tests.worker.helpers import running_worker, wait_until

APP = "tests.cli.campaign_app:app"


def _file(tmp_path: Path, name: str, body: object) -> str:
    path = tmp_path / name
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return str(path)


def test_add_show_list_and_steer(cli: Cli, tmp_path: Path) -> None:
    made = cli("campaigns", "add", "--app", APP, "--file",
               _file(tmp_path, "autumn.json", later("autumn")), "--json").json()  # fmt: skip
    assert (made["name"], made["state"]) == ("autumn", "scheduled")
    text = cli("campaigns", "add", "--app", APP, "--name", "winter", "--account", "globex",
               "--timezone", "America/New_York", "--step", "email=outreach.email,each",
               "--recipient", "a@example.com", "--recipient", "b@example.com",
               "--every", "1d", "--window", "mon-fri 09:00-17:00", "--per-day", "50",
               "--draft")  # fmt: skip
    assert text.code == 0 and "campaign winter created: draft" in text.out, text.err
    shown = cli("campaigns", "show", "winter", "--json").json()
    assert shown["spec"]["pacing"]["windows"] == ["mon-fri 09:00-17:00"]
    assert shown["spec"]["schedule"]["every"] == "1d" and shown["history"] == []
    assert [s["name"] for s in shown["steps"]] == ["email"]
    listed = cli("campaigns", "list", "--json").json()
    assert sorted((c["name"], c["state"]) for c in listed) == [("autumn", "scheduled"),
                                                                ("winter", "draft")]  # fmt: skip
    drafts = cli("campaigns", "list", "--state", "draft", "--json").json()
    assert [c["name"] for c in drafts] == ["winter"]
    table = cli("campaigns", "list")
    assert table.code == 0 and "autumn" in table.out and "globex" in table.out
    paused = cli("campaigns", "pause", "autumn", "--reason", "holiday", "--json").json()
    assert paused["state"] == "paused" and paused["pause_reason"] == "holiday"
    assert "campaign autumn: scheduled" in cli("campaigns", "resume", "autumn").out
    assert cli("campaigns", "cancel", "autumn", "--json").json()["state"] == "cancelled"
    refused = cli("campaigns", "resume", "autumn")
    assert refused.code == 2 and "cancelled" in refused.err
    assert cli("campaigns", "resume", "winter", "--reason", "x").code == 2


def test_bad_input_names_the_field(cli: Cli, tmp_path: Path) -> None:
    body = later("bad")
    body["steps"][1]["task"] = "nope"
    unknown = cli("campaigns", "add", "--app", APP, "--file", _file(tmp_path, "b.json", body))
    assert unknown.code == 2 and "steps.1.task" in unknown.err and "nope" in unknown.err
    zone = cli("campaigns", "add", "--app", APP, "--file", _file(tmp_path, "z.json", body),
               "--timezone", "Mars/Olympus")  # fmt: skip
    assert zone.code == 2 and "timezone" in zone.err
    step = cli("campaigns", "add", "--app", APP, "--name", "x", "--account", "a",
               "--step", "email", "--every", "1d")  # fmt: skip
    assert step.code == 2 and "--step 'email'" in step.err
    option = cli("campaigns", "add", "--app", APP, "--name", "x", "--account", "a",
                 "--step", "email=outreach.email,twice", "--every", "1d")  # fmt: skip
    assert option.code == 2 and "unknown option 'twice'" in option.err
    empty = cli("campaigns", "add")
    assert empty.code == 2 and "give a spec" in empty.err
    not_json = cli("campaigns", "add", "--file", _file(tmp_path, "n.json", "{nope"))
    assert not_json.code == 2 and "not valid JSON" in not_json.err
    missing = cli("campaigns", "show", "nope")
    assert missing.code == 2 and "no campaign named 'nope'" in missing.err
    assert cli("campaigns", "list", "--state", "asleep").code == 2
    assert not cli("campaigns", "list", "--json").json()  # nothing was stored
    naive = cli("campaigns", "forecast", "nope", "--now", "2030-01-01T09:00")
    assert naive.code == 2 and "offset" in naive.err


def test_a_yaml_spec(cli: Cli, tmp_path: Path) -> None:
    text = "\n".join([
        "name: yaml-one", "account: acme", "steps:", "  - name: email",
        "    task: outreach.email", "    each: true", "recipients:",
        "  - email: a@example.com", "schedule:", "  every: 1d",
    ])  # fmt: skip
    made = cli("campaigns", "add", "--app", APP, "--file", _file(tmp_path, "s.yaml", text),
               "--json").json()  # fmt: skip
    assert made["name"] == "yaml-one" and made["spec"]["steps"][0]["each"] is True
    bad = cli("campaigns", "add", "--file", _file(tmp_path, "l.yaml", "- a\n- b\n"))
    assert bad.code == 2 and "must hold a mapping" in bad.err


def test_forecast_prints_the_sentence_and_a_day_table(cli: Cli, tmp_path: Path) -> None:
    body = later("plan", steps=[{"name": "email", "task": "outreach.email", "each": True}],
                 recipients=[{"email": f"p{i}@x{i}.com"} for i in range(5)],
                 pacing={"per_day": 2})  # fmt: skip
    assert (
        cli("campaigns", "add", "--app", APP, "--file", _file(tmp_path, "p.json", body)).code == 0
    )
    now = "2030-01-07T10:00:00+01:00"  # a Monday morning in Paris
    found = cli("campaigns", "forecast", "plan", "--now", now, "--json").json()
    assert found["by_day"] == {"2030-01-07": 2, "2030-01-08": 2, "2030-01-09": 1}
    assert found["total"] == 5 and found["slots"] == []
    text = cli("campaigns", "forecast", "plan", "--now", now)
    assert text.code == 0 and text.out.startswith(found["text"])
    assert "Wednesday" in found["text"] and "in 2 days" in found["text"]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.out.splitlines()
            if line.startswith("│")]  # fmt: skip
    assert rows == [["2030-01-07", "Mon", "2"], ["2030-01-08", "Tue", "2"],
                    ["2030-01-09", "Wed", "1"]], text.out  # fmt: skip


def test_a_campaign_added_from_the_cli_runs_and_shows_its_run(
    cli: Cli, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    app = App("cli-run", redis_url=redis_url, prefix=prefix)
    sent = add_campaign_tasks(app, redis_url, prefix)
    made = cli("campaigns", "add", "--app", APP, "--file",
               _file(tmp_path, "s.json", spec("spring")), "--json").json()  # fmt: skip
    assert made["state"] == "scheduled"

    async def run() -> None:
        async with campaigns(app) as c:

            async def completed() -> bool:
                return (await c.get("spring")).state.value == "completed"

            async with running_worker(app, burst=False, concurrency=4):
                await wait_until(completed, timeout=60, interval=0.2)

    asyncio.run(run())
    shown = cli("campaigns", "show", "spring", "--json").json()
    steps = {s["name"]: s for s in shown["steps"]}
    assert steps["email"]["sent"] == 3 and steps["search"]["sent"] == 1
    assert [(r["run"], r["status"]) for r in shown["history"]] == [(1, "completed")]
    text = cli("campaigns", "show", "spring").out
    assert "campaign spring: completed" in text and "cmp-spring-1" in text
    log = redis.Redis.from_url(redis_url, decode_responses=True)
    assert sorted(log.lrange(sent, 0, -1)) == sorted(
        f"spring:email:{e}" for e in ("ana@example.com", "bo@example.org", "cy@example.net")
    )
    log.close()
