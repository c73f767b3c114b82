"""Workflow steps exactly once with two schedulers and three workers and one of
them SIGKILLed: a chain step makes 200 items, a fan-out runs one branch per item
and a fan-in gathers them, on three `chronoq worker` processes (each with its
embedded scheduler loop and workflow sweep) and two `chronoq scheduler` processes.
Mid fan-out the worker running branches is SIGKILLed with every slot inside a
branch (tests/fault/fanout_app.py says how): the branches it held run again
elsewhere, every node's side effect happens once, the workflow completes and the
fan-in sees every branch."""

from __future__ import annotations

import signal
from typing import Any

import pytest
import redis

from chronoq import App
from chronoq.redis.keys import Keyspace
from tests.fault.fanout_app import workflow
from tests.fault.helpers import ONE_AT_A_TIME, WorkerProcess, workers
from tests.servers.polling import wait_for

BRANCHES, SLOTS = 200, 2
APP = "tests.fault.fanout_app:app"


def _starts(raw: redis.Redis, key: str) -> list[tuple[int, str]]:
    pairs = [str(s).split(":", 1) for s in raw.lrange(key, 0, -1)]
    return [(int(pid), node) for pid, node in pairs]


def _held(raw: redis.Redis, prefix: str) -> int:
    return int(raw.llen(f"{prefix}:held"))


def _branch_effects(raw: redis.Redis, prefix: str) -> int:
    return sum(1 for k in raw.hkeys(f"{prefix}:effects") if str(k).startswith("b"))


@ONE_AT_A_TIME
@pytest.mark.timeout(180)
def test_a_fan_out_runs_every_branch_once_while_a_worker_is_killed_mid_fan_out(
    raw: redis.Redis, redis_url: str, prefix: str
) -> None:
    env = {"WF_REDIS": redis_url, "WF_KEY": prefix, "CHRONOQ_WORKFLOW_SWEEP": "0.2"}
    options = ("--concurrency", str(SLOTS), "--lease", "1")
    with workers() as started:
        victim = WorkerProcess(redis_url, prefix, *options, env={**env, "WF_VICTIM": "1"}, app=APP)
        started.append(victim)
        for _ in range(2):
            started.append(WorkerProcess(redis_url, prefix, *options, env=env, app=APP))
        for _ in range(2):
            started.append(WorkerProcess(redis_url, prefix, env=env, command="scheduler", app=APP))
        wait_for("three workers", lambda: raw.zcard(Keyspace(prefix).workers) == 3, timeout=60)
        app = App("wf-fanout-test", redis_url=redis_url, prefix=prefix)  # knows no task
        with app.workflows() as flows:
            wf_id = flows.start(workflow(BRANCHES))

            def under_way() -> bool:  # the fan-out runs, the victim among its runners
                victims = [n for p, n in _starts(raw, f"{prefix}:starts") if p == victim.pid]
                return _branch_effects(raw, prefix) >= 30 and any(n[0] == "b" for n in victims)

            wait_for("the fan-out under way", under_way, timeout=60)
            raw.set(f"{prefix}:armed", "1")
            wait_for("every victim slot held", lambda: _held(raw, prefix) == SLOTS, timeout=30)
            held = {node for _, node in _starts(raw, f"{prefix}:held")}
            ran = {n for p, n in _starts(raw, f"{prefix}:starts") if p == victim.pid} - held

            def recorded() -> bool:  # the victim's finished steps have their outcomes written
                nodes = _nodes(flows.show(wf_id))
                return all(nodes[n]["state"] == "succeeded" for n in ran)

            wait_for("the victim's outcomes written", recorded, timeout=30)
            done_at_kill = _branch_effects(raw, prefix)
            victim.signal(signal.SIGKILL)
            victim.wait(5)
            wait_for(
                "the workflow to end",
                lambda: flows.show(wf_id)["status"] != "running",
                timeout=120,
            )
            tree = flows.show(wf_id)
        for survivor in started[1:]:
            assert survivor.alive(), survivor.output()[-3000:]
    assert 0 < done_at_kill < BRANCHES  # killed mid fan-out
    assert tree["status"] == "completed", tree
    effects = {str(k): int(v) for k, v in raw.hgetall(f"{prefix}:effects").items()}
    expected = {"items", "in"} | {f"b{i}" for i in range(BRANCHES)}
    assert set(effects) == expected
    assert [n for n, count in effects.items() if count != 1] == []
    starts = [node for _, node in _starts(raw, f"{prefix}:starts")]
    for node in held:  # killed inside the branch, run once more elsewhere
        assert starts.count(node) == 2, (node, starts.count(node))
    nodes = _nodes(tree)
    assert len(nodes) == BRANCHES + 2
    assert all(node["state"] == "succeeded" for node in nodes.values())
    jobs = list(raw.scan_iter(match=f"{prefix}:{{default}}:job:*", count=1000))
    assert len(jobs) == len(nodes)  # one job per step, none enqueued twice
    assert len({node["job"] for node in nodes.values()}) == len(nodes)
    gathered = tree["stages"][-1]["nodes"][0]["result"]
    assert gathered["seen"] == list(range(BRANCHES))  # the fan-in saw every branch
    assert gathered["succeeded"] == BRANCHES
    assert gathered["sum"] == sum(i * i for i in range(BRANCHES))


def _nodes(tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every node by its test name: 'items', 'b<item>', 'in'."""
    stages = tree["stages"]
    named = {"items": stages[0]["nodes"][0]} if stages[0]["nodes"] else {}
    named |= {f"b{n['item']}": n for n in stages[1]["nodes"]}
    if stages[2]["nodes"]:
        named["in"] = stages[2]["nodes"][0]
    return named
