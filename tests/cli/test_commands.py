"""The command line against a real Redis: output for people and scripts, exit codes."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, datetime, timedelta

from chronoq import App, Gate
from chronoq.client import JobRequest
from tests.cli.helpers import Cli

APP = "tests.sample_app:app"


def enqueue(cli: Cli, *args: str) -> dict[str, object]:
    out: dict[str, object] = cli("enqueue", *args, "--force", "--json").json()
    return out


def test_enqueue_then_show_the_job(cli: Cli) -> None:
    made = enqueue(cli, "tests.sample_app.add", "--args", "[2, 3]", "--kwargs", "{}")
    assert made["status"] == "queued" and made["created"] is True
    job = cli("job", str(made["id"]), "--json").json()
    assert job["task"] == "tests.sample_app.add"
    assert job["args"] == [2, 3]
    assert job["status"] == "queued"
    table = cli("job", str(made["id"]))
    assert table.code == 0 and str(made["id"]) in table.out and "[2, 3]" in table.out


def test_enqueue_options_place_the_job(cli: Cli) -> None:
    later = enqueue(cli, "t", "--queue", "mail", "--priority", "7", "--in", "60")
    assert later["status"] == "scheduled" and later["queue"] == "mail"
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert enqueue(cli, "t", "--at", at)["status"] == "scheduled"
    job = cli("job", str(later["id"]), "--json").json()
    assert job["priority"] == 7


def test_unique_key_returns_the_first_job(cli: Cli) -> None:
    first = enqueue(cli, "t", "--unique", "report-42")
    second = enqueue(cli, "t", "--unique", "report-42")
    assert second["id"] == first["id"] and second["created"] is False


def test_bad_arguments_are_one_line_errors_with_status_2(cli: Cli) -> None:
    cases = [
        (("enqueue", "t", "--args", "[1,"), "--args is not valid JSON"),
        (("enqueue", "t", "--args", '{"a": 1}'), "--args must be an array in JSON"),
        (("enqueue", "t", "--kwargs", "[1]"), "--kwargs must be an object in JSON"),
        (("enqueue", "t", "--at", "2030-01-01T10:00"), "has no UTC offset"),
        (("enqueue", "t", "--at", "tomorrow"), "is not an ISO 8601 time"),
        (("enqueue", "t", "--in", "5", "--at", "2030-01-01T10:00Z"), "either --in or --at"),
        (("enqueue", "t", "--in", "-1"), "--in"),
        (("jobs", "--status", "finished"), "unknown status 'finished'"),
        (("jobs", "--limit", "0"), "--limit"),
        (("job", "no-such-id"), "no job with id 'no-such-id'"),
        (("dlq", "requeue"), "give a job ID to requeue, or --all"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.code == 2, (args, result)
        assert message in result.err, (args, result.err)
        assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err


def test_unreachable_redis_is_a_one_line_error(cli: Cli) -> None:
    result = cli.raw("queues", "--redis-url", "redis://127.0.0.1:1/0")
    assert result.code == 2
    assert result.err.startswith("chronoq: error: cannot reach Redis")
    assert result.err.count("\n") == 1


def test_bad_app_is_a_one_line_error(cli: Cli) -> None:
    for target, message in [
        ("nomodule", "module:attribute"),
        ("tests.no_such_module:app", "cannot import"),
        ("tests.sample_app:missing", "has no attribute"),
        ("tests.sample_app:add", "not a chronoq App"),
    ]:
        result = cli("worker", target, "--burst")
        assert result.code == 2 and message in result.err, (target, result.err)


def test_jobs_filters_by_status_queue_and_limit(cli: Cli) -> None:
    for _ in range(3):
        enqueue(cli, "t", "--queue", "a")
    enqueue(cli, "t", "--queue", "b", "--in", "60")
    assert len(cli("jobs", "--json").json()) == 4
    assert len(cli("jobs", "--queue", "a", "--json").json()) == 3
    assert len(cli("jobs", "--queue", "a", "--limit", "2", "--json").json()) == 2
    scheduled = cli("jobs", "--status", "scheduled", "--json").json()
    assert [j["queue"] for j in scheduled] == ["b"]
    assert "queued" in cli("jobs").out


def test_queues_counts(cli: Cli) -> None:
    enqueue(cli, "t", "--queue", "a")
    enqueue(cli, "t", "--queue", "a", "--in", "60")
    rows = {r["queue"]: r for r in cli("queues", "--json").json()}
    assert rows["a"]["waiting"] == 1 and rows["a"]["scheduled"] == 1
    assert rows["a"]["running"] == 0 and rows["a"]["dead"] == 0
    assert "waiting" in cli("queues").out


def test_cancel_a_waiting_job_at_once_not_a_finished_one(cli: Cli) -> None:
    job_id = str(enqueue(cli, "t", "--in", "60")["id"])
    assert cli("cancel", job_id, "--json").json() == {"id": job_id, "status": "cancelled"}
    assert cli("job", job_id, "--json").json()["status"] == "cancelled"
    assert cli("cancel", job_id).code == 0  # idempotent
    done = str(enqueue(cli, "tests.sample_app.add", "--args", "[1, 1]")["id"])
    assert cli("worker", APP, "--burst").code == 0
    refused = cli("cancel", done)
    assert refused.code == 1 and "is succeeded; a finished job cannot be cancelled" in refused.err


def test_worker_runs_jobs_and_dlq_round_trip(cli: Cli) -> None:
    ok = str(enqueue(cli, "tests.sample_app.add", "--args", "[20, 22]")["id"])
    bad = str(enqueue(cli, "tests.sample_app.boom", "--args", '["no luck"]')["id"])
    assert cli("worker", APP, "--burst", "--concurrency", "4").code == 0
    assert cli("job", ok, "--json").json()["result"] == 42

    dead = cli("dlq", "list", "--json").json()
    assert [j["id"] for j in dead] == [bad]
    assert cli("dead-letters", "--json", "--limit", "5").json() == dead  # the operators' name
    assert "no luck" in cli("dead-letters").out
    assert "RuntimeError: no luck" in dead[0]["error"]
    shown = cli("dlq", "show", bad)
    assert "Traceback" in shown.out and "no luck" in shown.out
    assert cli("dlq", "show", ok).code == 2  # not dead

    assert cli("dlq", "requeue", bad, "--json").json() == {"requeued": 1}
    assert cli("job", bad, "--json").json()["status"] == "queued"
    assert cli("worker", APP, "--burst").code == 0
    assert cli("job", bad, "--json").json()["status"] == "dead"

    assert cli("dlq", "purge", "--all", "--json").json() == {"purged": 1}
    assert cli("dlq", "list", "--json").json() == []
    assert cli("job", bad).code == 2
    missing = cli("dlq", "requeue", bad)
    assert missing.code == 2, missing


def test_dlq_requeue_all_of_one_queue(cli: Cli) -> None:
    for queue in ("a", "a", "b"):
        enqueue(cli, "tests.sample_app.boom", "--args", '["x"]', "--queue", queue)
    assert cli("worker", APP, "--queues", "a,b", "--burst").code == 0
    assert len(cli("dlq", "list", "--json").json()) == 3
    assert cli("dlq", "requeue", "--all", "--queue", "a", "--json").json() == {"requeued": 2}
    assert len(cli("dlq", "list", "--json").json()) == 1
    assert "dead jobs" in cli("dlq", "list").out


def test_server_commands_start_report_and_stop_the_embedded_server(cli: Cli) -> None:
    folder = tempfile.mkdtemp(prefix="cq-", dir="/tmp")
    try:
        status = cli.raw("server", "status", "--data-dir", folder, "--json")
        assert status.code == 0 and '"running": false' in status.out
        assert cli.raw("server", "start", "--data-dir", folder).code == 0
        assert '"running": true' in cli.raw("server", "status", "--data-dir", folder, "--json").out
        assert "stopped" in cli.raw("server", "stop", "--data-dir", folder).out
        assert '"running": false' in cli.raw("server", "status", "--data-dir", folder, "--json").out
    finally:
        cli.raw("server", "stop", "--data-dir", folder)
        shutil.rmtree(folder, ignore_errors=True)


def test_parked_jobs_show_as_blocked(cli: Cli, redis_url: str, prefix: str) -> None:
    async def park_one() -> str:
        async with App(redis_url=redis_url, prefix=prefix).client() as client:
            for _ in range(2):
                last = await client.submit(JobRequest("t", gates=[Gate("campaign:1")], force=True))
            await client.broker.claim(
                "default", 10, lease_ms=5000, token="x", worker_id="w", retention_ms=60_000
            )
            return last.id

    parked = asyncio.run(park_one())
    (row,) = cli("queues", "--json").json()
    assert (row["blocked"], row["running"]) == (1, 1)
    assert "blocked" in cli("queues").out
    (job,) = cli("jobs", "--status", "blocked", "--json").json()
    assert job["id"] == parked and job["gates"] == [
        {"key": "campaign:1", "limit": 1, "on_full": "wait"}
    ]
