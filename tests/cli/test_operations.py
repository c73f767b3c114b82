"""`chronoq dlq requeue|purge --as-operation` and `chronoq operations list|show|cancel|run`."""

from __future__ import annotations

import redis

from chronoq.redis.keys import Keyspace
from tests.cli.helpers import Cli
from tests.cli.test_dlq_requeue import APP, BOOM, dead_job


def test_a_requeue_as_an_operation_then_reading_it_back(cli: Cli, raw: redis.Redis) -> None:
    ids = [dead_job(cli, BOOM, f"HTTP 429 #{i}") for i in range(3)]
    kept = dead_job(cli, BOOM, "HTTP 400")
    assert cli("worker", APP, "--burst").code == 0

    dry = cli("dlq", "requeue", "--as-operation", "--dry-run", "--filter", "error:429", "--json")
    assert dry.code == 0, dry.err
    assert (dry.json()["state"], dry.json()["counts"]["requeued"]) == ("done", 3)
    assert len(cli("dlq", "list", "--json").json()) == 4  # nothing moved

    done = cli("dlq", "requeue", "--as-operation", "--error-contains", "429", "--json").json()
    assert (done["state"], done["counts"]["requeued"], done["actor"]) == ("done", 3, "cli")
    assert done["filter_text"] == "status:dead error:429"
    assert {cli("job", i, "--json").json()["status"] for i in ids} == {"queued"}
    assert [j["id"] for j in cli("dlq", "list", "--json").json()] == [kept]

    listed = cli("operations", "list", "--json").json()
    assert [op["id"] for op in listed] == [done["id"], dry.json()["id"]]
    shown = cli("operations", "show", done["id"])
    assert shown.code == 0 and "3/3" in shown.out and "requeued 3" in shown.out
    audit = [k for k in raw.keys(f"{cli.prefix}:*") if "audit" in k]
    assert audit, "operations are audited"


def test_a_detached_operation_is_run_by_a_runner_or_cancelled(cli: Cli, raw: redis.Redis) -> None:
    dead_job(cli, BOOM, "x")
    dead_job(cli, BOOM, "y")
    assert cli("worker", APP, "--burst").code == 0
    first = cli("dlq", "purge", "--all", "--as-operation", "--detach", "--json").json()
    assert first["state"] == "pending"
    assert cli("operations", "run", "--once").code == 0
    shown = cli("operations", "show", first["id"], "--json").json()
    assert (shown["state"], shown["counts"]["purged"]) == ("done", 2)
    assert raw.zcard(Keyspace(cli.prefix).queue("default").dead) == 0

    second = cli("dlq", "purge", "--all", "--as-operation", "--detach", "--json").json()
    cancelled = cli("operations", "cancel", second["id"], "--json").json()
    assert cancelled["state"] == "cancelled"


def test_operation_mistakes_are_one_line_errors(cli: Cli) -> None:
    alone = cli("dlq", "requeue", "--filter", "task:x")
    assert alone.code == 2 and "go with --as-operation" in alone.err
    one = cli("dlq", "requeue", "abc", "--as-operation")
    assert one.code == 2 and "not a job ID" in one.err
    bad = cli("dlq", "requeue", "--as-operation", "--filter", "colour:red")
    assert bad.code == 2 and "unknown key 'colour'" in bad.err
    missing = cli("operations", "show", "nope")
    assert missing.code == 2 and "no operation with id 'nope'" in missing.err
