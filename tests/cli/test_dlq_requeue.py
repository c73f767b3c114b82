"""`chronoq dlq requeue` by task, error and time, keeping each job's attempt history."""

from __future__ import annotations

import redis

from chronoq.redis.keys import Keyspace
from tests.cli.helpers import Cli

APP = "tests.sample_app:app"
BOOM = "tests.sample_app.boom"


def dead_job(cli: Cli, task: str, message: str) -> str:
    made = cli("enqueue", "--force", task, "--args", f'["{message}"]', "--json").json()
    return str(made["id"])


def test_requeue_by_task_error_and_since_keeps_attempts(cli: Cli, raw: redis.Redis) -> None:
    quota = dead_job(cli, BOOM, "HTTP 429 quota")
    bad = dead_job(cli, BOOM, "HTTP 400 bad request")
    old = dead_job(cli, BOOM, "http 429 long ago")
    other = dead_job(cli, "tests.sample_app.missing", "x")  # unknown task: dead
    assert cli("worker", APP, "--burst").code == 0
    assert len(cli("dlq", "list", "--json").json()) == 4
    raw.zadd(Keyspace(cli.prefix).queue("default").dead, {old: 1_000})  # dead in 1970

    picked = cli(
        "dlq", "requeue", "--task", BOOM, "--error-contains", "429", "--since", "1h", "--json"
    )
    assert picked.json() == {"requeued": 1}
    assert cli("job", quota, "--json").json()["status"] == "queued"
    assert cli("dlq", "requeue", "--error-contains", "HTTP 429", "--json").json() == {
        "requeued": 1  # the old one (ASCII case ignored)
    }
    assert cli("dlq", "requeue", "--task", BOOM, "--json").json() == {"requeued": 1}  # bad
    assert [j["id"] for j in cli("dlq", "list", "--json").json()] == [other]

    assert cli("worker", APP, "--burst").code == 0
    for job_id in (quota, bad, old):
        shown = cli("job", job_id, "--json").json()
        assert (shown["status"], shown["attempts"]) == ("dead", 2)  # ran as attempt 2


def test_requeue_filter_errors_are_one_line(cli: Cli) -> None:
    bad = cli("dlq", "requeue", "--since", "yesterday")
    assert bad.code == 2 and "--since 'yesterday' is not a duration" in bad.err
    assert bad.err.count("\n") == 1
    none = cli("dlq", "requeue")
    assert none.code == 2 and "or filters: --task, --error-contains, --since" in none.err
