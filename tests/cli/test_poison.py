"""`chronoq job` and the listings on records another client wrote badly: one line
naming the problem, or a readable job; never a traceback."""

from __future__ import annotations

import redis

from chronoq.redis.keys import Keyspace, QueueKeys
from tests.cli.helpers import Cli
from tests.redis.poison import DEEP_JSON


def enqueue(cli: Cli) -> str:
    made = cli("enqueue", "t", "--args", "[1]", "--force", "--json").json()
    return str(made["id"])


def keys(cli: Cli) -> QueueKeys:
    return Keyspace(cli.prefix).queue("default")


def test_a_result_nested_1000_deep_prints_one_line(cli: Cli, raw: redis.Redis) -> None:
    job_id = enqueue(cli)
    q = keys(cli)
    raw.hset(q.job(job_id), "status", "succeeded")
    raw.set(q.result(job_id), DEEP_JSON)
    for args in (["job", job_id], ["job", job_id, "--json"], ["jobs"]):
        shown = cli(*args)
        assert shown.code == 2, args
        assert shown.out == ""
        assert shown.err.count("\n") == 1, shown.err  # one line
        assert "result nested deeper than 100 levels" in shown.err
        assert "Traceback" not in shown.err
    assert f"job {job_id} cannot be shown" in cli("job", job_id).err


def test_arguments_nested_1000_deep_show_as_a_readable_job(cli: Cli, raw: redis.Redis) -> None:
    job_id = enqueue(cli)
    raw.hset(keys(cli).job(job_id), "args", f"[{DEEP_JSON}]")
    shown = cli("job", job_id)
    assert shown.code == 0, shown.err
    assert "(undecodable, 2002 characters)" in shown.out and "[[[[" in shown.out
    assert len(shown.out.splitlines()) < 40  # clipped, not 2,000 characters folded
    as_json = cli("job", job_id, "--json").json()
    assert as_json["id"] == job_id and as_json["args"] == []


def test_a_dead_poison_record_is_listed_with_its_reason(cli: Cli, raw: redis.Redis) -> None:
    """What the scripts leave after dead-lettering a bad record stays readable: the
    operator sees the job and the field named in its error."""
    job_id = enqueue(cli)
    q = keys(cli)
    reason = "bad job record: field 'att' is not a number ('x')"
    raw.hset(q.job(job_id), mapping={"status": "dead", "att": "x", "gate": "{", "err": reason})
    raw.zrem(q.ready, job_id)
    raw.zadd(q.dead, {job_id: 1})
    listed = cli("dlq", "list", "--json").json()
    assert [(j["id"], j["error"]) for j in listed] == [(job_id, reason)]
    shown = cli("job", job_id)
    assert shown.code == 0 and "field 'att' is not a number" in shown.out
