"""`chronoq metrics --hours N` and `chronoq report --hours N` (text, --json, --html)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from chronoq import App
from tests.cli.helpers import Cli
from tests.observe.test_rollups import run_mix


def drained(app: App) -> None:
    async def go() -> None:
        async with app.client() as client:
            await run_mix(app, client)

    asyncio.run(go())


def test_metrics_hours_text_and_json(app: App, cli: Cli) -> None:
    drained(app)
    text = cli("metrics", "--hours", "1")
    assert text.code == 0, text.err
    assert "metrics, the last 1 hour(s)" in text.out
    for task in ("fast", "slow", "flaky"):
        assert re.search(rf"mix\s+│\s+{task}\b", text.out), text.out
    assert "(all)" in text.out and "ms /" in text.out
    data = cli("metrics", "--hours", "1", "--json").json()
    assert data["hours"] == 1 and data["total"]["counts"]["succeeded"] == 34
    rows = {r["task"]: r for r in data["rows"]}
    assert rows["slow"]["run"]["p99"] <= 0.25 < rows["slow"]["run"]["p99"] + 0.15
    assert rows["flaky"]["success_rate"] == 0.0 and rows["fast"]["success_rate"] == 1.0
    workers = data["operations"]["workers"]  # the draining worker's memory and CPU
    assert [w["queue"] for w in workers] == ["mix"] and workers[0]["samples"] >= 1
    assert "worker processes" in text.out
    only = cli("metrics", "--hours", "1", "--task", "slow", "--json").json()
    assert [r["task"] for r in only["rows"]] == ["slow"]
    assert cli("metrics", "show").code == 0  # the subcommands still answer


def test_metrics_rejects_bad_hours(cli: Cli) -> None:
    bad = cli("metrics", "--hours", "0")
    assert bad.code == 2 and bad.err.startswith("chronoq: error: invalid hours 0")
    assert cli("report", "--hours", "-1").code == 2
    assert cli.raw("metrics").code == 0  # no --hours, no subcommand: its help


def test_report_text_json_and_one_html_file(app: App, cli: Cli, tmp_path: Path) -> None:
    drained(app)
    text = cli("report", "--hours", "1")
    assert text.code == 0, text.err
    assert "success rate 89.5%" in text.out  # 34 of 38 attempts
    for heading in ("slowest tasks", "top failure groups", "schedule lateness",
                    "limits near their cap"):  # fmt: skip
        assert heading in text.out
    slowest = text.out.split("slowest tasks")[1].splitlines()[1]
    assert slowest.lstrip().startswith("slow (mix)")
    assert re.search(r"flaky \[parse\] x4 \(2 dead now\)", text.out), text.out
    data = cli("report", "--hours", "1", "--json").json()
    assert data["slowest_tasks"][0]["task"] == "slow"
    assert data["failure_groups"][0]["task"] == "flaky" and data["counts"]["dead"] == 2
    assert data["limits_near_cap"] == [] and data["schedule_lateness"] == []
    assert set(data["operations"]) == {"hours", "schedules", "limits", "locks", "workers"}
    page = tmp_path / "report.html"
    written = cli("report", "--hours", "1", "--html", str(page))
    assert written.code == 0 and str(page) in written.out
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # one file
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") >= 4
    assert not re.search(r"https?://", html) and "<script" not in html
    assert " src=" not in html and "<link" not in html
    assert "flaky" in html and "89.5%" in html
    missing = cli("report", "--hours", "1", "--html", str(tmp_path / "no" / "r.html"))
    assert missing.code == 2 and missing.err.startswith("chronoq: error: cannot write")
