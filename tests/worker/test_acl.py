"""chronoq under least-privilege ACL users, with exactly the rules the README states
(tests/acl_rules.py): a worker process (with its scheduler loop), a producer (async and
sync client) and a viewer (the command line's read commands) run jobs and a schedule end
to end, and the server's ACL LOG shows that none of them was ever refused a command.
A viewer that tries to enqueue is refused with a clear error, and nothing is written."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis

from chronoq import App, Chain, JobStatus, Step
from chronoq.cli.main import main
from chronoq.client import JobRequest
from chronoq.redis.keys import Keyspace
from tests.acl_rules import ROLES, rules_for
from tests.fault.helpers import WorkerProcess
from tests.servers.acl import AclServer, AclSpec
from tests.servers.binaries import BinaryName
from tests.servers.polling import wait_for

PREFIX = "cq-acl"  # fixed: the users' key patterns name it (each test has its own server)
APP = "tests.acl_app:app"


def ignored(user: str, command: str) -> bool:
    """Refusals chronoq expects and passes over (see the README): CLIENT SETINFO, sent
    by redis-py on connect, its refusal ignored (Redis 7.0 has no such subcommand to
    grant), and the worker's start-up CONFIG GET, skipped when refused."""
    return command == "client|setinfo" or (user, command) == ("worker", "config|get")


def acl_spec(binary: BinaryName = "redis") -> AclSpec:
    users = {role: rules_for(role, PREFIX, f"{role}-secret") for role in ROLES}
    return AclSpec(users=users, binary=binary)


def refusals(server: AclServer) -> list[str]:
    """Every command the server refused a user but those expected, as
    'user: command (reason, context)'."""
    with server.admin(decode_responses=True) as admin:
        entries: list[dict[str, Any]] = admin.acl_log()
    return [
        f"{e['username']}: {e['object']} ({e['reason']}, {e['context']})"
        for e in entries
        if not ignored(e["username"], e["object"])
    ]


def viewer_cli(
    server: AclServer, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*args, "--redis-url", server.url_for("viewer"), "--prefix", PREFIX])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def viewer_json(server: AclServer, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = viewer_cli(server, capsys, *args, "--json")
    assert code == 0, f"{err}refused: {refusals(server)}"
    return json.loads(out)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("acl_server", [acl_spec("redis"), acl_spec("valkey")], indirect=True)
def test_worker_producer_and_viewer_run_end_to_end_under_their_minimal_rules(
    acl_server: AclServer, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = WorkerProcess(acl_server.url_for("worker"), PREFIX, app=APP)
    try:
        producer = App("producer", redis_url=acl_server.url_for("producer"), prefix=PREFIX)
        with producer.sync_client() as client:
            made = [
                client.submit(JobRequest("tests.acl_app.add", (1, 2), force=True))
            ]  # the fast path
            made += client.enqueue_many(
                [JobRequest("tests.acl_app.limited", (n,), force=True) for n in range(3)]
                + [JobRequest("tests.acl_app.locked", (7,), force=True)]
            )
            results = [client.result(job.id, timeout=30) for job in made]
        assert results == [3, 0, 1, 2, 7]

        async def produce() -> tuple[str, Any]:
            async with producer.client() as async_client:
                job = await async_client.submit(JobRequest("tests.acl_app.add", (2, 2), force=True))
                return job.id, await async_client.result(job.id, timeout=30)

        async_id, async_result = asyncio.run(produce())
        assert async_result == 4

        with producer.sync_client() as client:  # cancelling a running job: publish allowed
            waiting = client.submit(JobRequest("tests.acl_app.waits", force=True))
            running = JobStatus.RUNNING
            wait_for("the job to run", lambda: client.job(waiting.id).status is running, 20)
            assert client.cancel(waiting.id) == "cancelling"
            cancelled = JobStatus.CANCELLED
            wait_for("the cancel", lambda: client.job(waiting.id).status is cancelled, 20)

        def ticks() -> list[dict[str, Any]]:
            jobs = viewer_json(
                acl_server, capsys, "jobs", "--status", "succeeded", "--limit", "500"
            )
            return [j for j in jobs if j["task"] == "tests.acl_app.tick"]

        wait_for("two scheduled ticks to run", lambda: len(ticks()) >= 2, 20)

        with producer.workflows() as flows:  # steps advanced by the worker, read by a viewer
            chain = Chain([Step("tests.acl_app.add", 1, 2), Step("tests.acl_app.add", 10)])
            flow = flows.start(chain)
            wait_for("the workflow", lambda: flows.show(flow)["status"] == "completed", 30)
            assert flows.pause(flow) == ("completed", "completed")
        tree = viewer_json(acl_server, capsys, "workflows", "show", flow)
        assert tree["stages"][1]["nodes"][0]["result"] == 13

        queues = {q["queue"]: q for q in viewer_json(acl_server, capsys, "queues")}
        assert queues["default"]["stats"]["succeeded"] >= 8
        job = viewer_json(acl_server, capsys, "job", async_id)
        assert (job["status"], job["result"]) == (JobStatus.SUCCEEDED.value, 4)
        (live,) = viewer_json(acl_server, capsys, "workers")
        assert int(live["pid"]) == worker.pid
        (schedule,) = viewer_json(acl_server, capsys, "schedules", "list")
        assert schedule["name"] == "acl-tick"
        (limit,) = viewer_json(acl_server, capsys, "limits", "list")
        assert limit["name"] == "acl-rate"
        assert worker.alive(), worker.output()
        assert refusals(acl_server) == []
    finally:
        worker.stop()


def legacy_producer_spec() -> AclSpec:
    """A producer under the rules chronoq 0.1 documented: the current ones less +incr."""
    rules = rules_for("producer", PREFIX, "producer-secret")
    assert " +incr " in rules
    return AclSpec(users={"producer": rules.replace(" +incr ", " ")})


@pytest.mark.parametrize("acl_server", [legacy_producer_spec()], indirect=True)
def test_a_producer_under_the_earlier_rules_still_enqueues_in_order(
    acl_server: AclServer,
) -> None:
    producer = App("producer", redis_url=acl_server.url_for("producer"), prefix=PREFIX)
    with producer.sync_client() as client:
        made = [
            client.submit(JobRequest("tests.acl_app.add", (n, 0), force=True)) for n in range(5)
        ]
    assert [job.status for job in made] == [JobStatus.QUEUED] * 5
    with acl_server.admin(decode_responses=True) as admin:
        q = Keyspace(PREFIX).queue("default")
        assert admin.zrange(q.ready, 0, -1) == [job.id for job in made]  # FIFO, numbered
        assert admin.get(q.seq) == "5"
        denied = {e["object"] for e in admin.acl_log()}
    assert denied <= {"incr", "client|setinfo"}  # the fallback's refused INCR, no other


@pytest.mark.parametrize("acl_server", [acl_spec()], indirect=True)
def test_a_viewer_cannot_enqueue_and_is_told_why(
    acl_server: AclServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = viewer_cli(
        acl_server, capsys, "enqueue", "tests.acl_app.add", "--args", "[1, 2]", "--force"
    )
    assert code == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("chronoq: error: Redis denied this user a command"), line
    assert "(NOPERM)" in line and "no permissions" in line, line
    viewer = App("viewer", redis_url=acl_server.url_for("viewer"), prefix=PREFIX)
    with viewer.sync_client() as client, pytest.raises(redis.exceptions.NoPermissionError):
        client.submit(JobRequest("tests.acl_app.add", (1, 2), force=True))
    with acl_server.admin() as admin:
        assert admin.dbsize() == 0  # nothing written by either attempt


@pytest.mark.parametrize("acl_server", [acl_spec()], indirect=True)
def test_a_viewer_reads_workers_and_limits_left_behind_without_pruning_them(
    acl_server: AclServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`workers` and `limits list` drop index entries whose records are gone; a viewer
    may not write, so it skips that tidying (a worker or an operator does it)."""
    keys = Keyspace(PREFIX)
    with acl_server.admin() as admin:
        admin.zadd(keys.workers, {"gone-worker": 1})
        admin.sadd(keys.limits, "gone-limit")
    assert viewer_json(acl_server, capsys, "workers") == []
    assert viewer_json(acl_server, capsys, "limits", "list") == []
    with acl_server.admin() as admin:
        assert admin.zcard(keys.workers) == 1
        assert admin.scard(keys.limits) == 1
    assert sorted(refusals(acl_server)) == [
        "viewer: srem (command, toplevel)",
        "viewer: zrem (command, toplevel)",
    ]


@pytest.mark.parametrize("acl_server", [acl_spec()], indirect=True)
def test_operator_commands_work_under_the_workers_rules(
    acl_server: AclServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = acl_server.url_for("worker")

    def run(*args: str) -> str:
        capsys.readouterr()
        code = main([*args, "--redis-url", url, "--prefix", PREFIX])
        captured = capsys.readouterr()
        assert code == 0, f"{args}: {captured.err}refused: {refusals(acl_server)}"
        return captured.out

    job = json.loads(run("enqueue", "tests.acl_app.add", "--args", "[1, 2]", "--force", "--json"))
    run("cancel", job["id"])
    dead = json.loads(run("enqueue", "tests.acl_app.add", "--in", "3600", "--force", "--json"))
    with acl_server.admin() as admin:  # make it dead, as a failed last attempt would
        q = Keyspace(PREFIX).queue("default")
        admin.zrem(q.scheduled, dead["id"])
        admin.zadd(q.dead, {dead["id"]: 1})
        admin.hset(q.job(dead["id"]), "status", "dead")
    run("dlq", "requeue", dead["id"])
    run("schedules", "add", "nightly", "--task", "tests.acl_app.tick", "--spec", "0 3 * * *")
    for action in ("pause", "resume"):
        run("schedules", action, "nightly")
    run("schedules", "trigger", "nightly", "--force")  # no worker registered its task
    run("schedules", "history", "nightly")
    run("schedules", "rm", "nightly")
    for command in (("pause", "--reason", "acl"), ("resume",), ("drain",)):
        run("queues", command[0], "default", *command[1:])
    run("locks", "list")
    run("limits", "set", "api", "--rate", "10/s")
    run("limits", "rm", "api")
    run("quotas", "zone", "acme", "Europe/Paris")
    run("dlq", "purge", "--all")
    assert refusals(acl_server) == []
