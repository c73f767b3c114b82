"""Three worker processes and two scheduler loops run one workflow of many steps;
the worker running a step is SIGKILLed mid-step: every step's side effect happens
exactly once, and the queue holds exactly one job per step."""

from __future__ import annotations

import signal

import pytest
import redis

from chronoq import App
from chronoq.redis.keys import Keyspace
from tests.fault.helpers import ONE_AT_A_TIME, WorkerProcess, workers
from tests.fault.workflow_app import workflow
from tests.servers.polling import wait_for

LINKS, BRANCHES = 12, 30


@ONE_AT_A_TIME
@pytest.mark.timeout(150)
def test_every_step_once_while_a_worker_is_killed_mid_step(
    raw: redis.Redis, redis_url: str, prefix: str
) -> None:
    env = {"WF_REDIS": redis_url, "WF_KEY": prefix, "CHRONOQ_WORKFLOW_SWEEP": "0.2"}
    with workers() as started:
        for _ in range(3):
            started.append(WorkerProcess(redis_url, prefix, "--concurrency", "2", "--lease", "1",
                                         env=env, app="tests.fault.workflow_app:app"))  # fmt: skip
        for _ in range(2):
            started.append(WorkerProcess(redis_url, prefix, env=env, command="scheduler",
                                         app="tests.fault.workflow_app:app"))  # fmt: skip
        keys = Keyspace(prefix)
        wait_for("three workers", lambda: raw.zcard(keys.workers) == 3, timeout=60)
        app = App("wf-fault-test", redis_url=redis_url, prefix=prefix)  # knows no task: learns
        with app.workflows() as flows:
            wf_id = flows.start(workflow(LINKS, BRANCHES))
            wait_for("six steps started", lambda: raw.llen(f"{prefix}:starts") >= 6, timeout=60)
            pid_text, killed_step = str(raw.lindex(f"{prefix}:starts", -1)).split(":")
            pid = int(pid_text)  # that step sleeps now, before its effect
            (victim,) = [w for w in started[:3] if w.pid == pid]
            victim.signal(signal.SIGKILL)
            victim.wait(5)
            wait_for(
                "the workflow to end",
                lambda: flows.show(wf_id)["status"] != "running",
                timeout=100,
            )
            tree = flows.show(wf_id)
        for survivor in started:
            if survivor is not victim:
                assert survivor.alive(), survivor.output()[-3000:]
    assert tree["status"] == "completed", tree
    effects = {str(k): int(v) for k, v in raw.hgetall(f"{prefix}:effects").items()}
    expected = {f"s{i}" for i in range(LINKS)} | {f"b{i}" for i in range(BRANCHES)} | {"in"}
    assert set(effects) == expected
    assert all(count == 1 for count in effects.values()), effects
    nodes = [node for stage in tree["stages"] for node in stage["nodes"]]
    assert len(nodes) == LINKS + BRANCHES + 1
    assert all(node["state"] == "succeeded" for node in nodes)
    jobs = list(raw.scan_iter(match=f"{prefix}:{{default}}:job:*", count=1000))
    assert len(jobs) == len(nodes)  # one job per step, none enqueued twice
    assert len({node["job"] for node in nodes}) == len(nodes)
    starts = [str(s).split(":", 1)[1] for s in raw.lrange(f"{prefix}:starts", 0, -1)]
    assert starts.count(killed_step) == 2, (killed_step, starts)  # killed mid-step, run again
    assert tree["stages"][-1]["nodes"][0]["result"] == sum(range(BRANCHES))
