"""Redis memory per recipient of issue 12's campaign bar, through the real code.

100 real campaigns (one per account, 100 recipients each given in the spec, an
`each` first step whose task is registered) on a private redis-server; used_memory
(INFO) is read before and after each phase and divided by the 10,000 recipients.
No worker runs: each phase calls what the worker's job (or the engine, when that
job ends) calls, in the order a run goes through them:

  1. create: `Campaigns.create(spec)` (record with the spec and its recipients,
     the campaign index, the schedule `campaign.<name>`);
  2. run start: `chronoq.campaigns.runner.start_run(app, name)`, the body of the
     task `chronoq.campaigns.run` (run entry, the workflow `cmp-<name>-1` with its
     enroll node, released and enqueued as the enroll job);
  3. enrolment: `enroll_recipients(app, found, **kwargs of the enroll node)`, the
     body of `chronoq.campaigns.enroll` (`{cmp:<name>}:recipients` via
     cmp_enroll.lua; it returns the recipients with their planned `send_at`);
  4. enroll result: `WorkflowStore.finish(node "0", result=that list)`, what
     `Workflows.step_finished` records when the enroll job succeeds;
  5. fan-out nodes: `Workflows._open_next`, what `settle` calls next
     (`Plan.nodes` + `WorkflowStore.open_next`: one node per recipient);
  6. send jobs: `Workflows.settle`: every node released and its job enqueued
     (job records, idempotency keys, queue entries; the nodes gain job ids);
  7. grants: the real grant (chronoq.campaigns.grant -> cmp_grant.lua), each
     recipient at its planned slot, in time order, with `run_step`'s grant id;
  8. step marks: `CampaignStore.step_begin` then `step_end` (cmp_step_begin.lua,
     cmp_step_end.lua), with each node's job id, as `run_step` does.

The plan's clock (`chronoq.campaigns.runner.app_clock`, the one tests replace) is
set 52 weeks before the bench's start (a Tuesday 08:00 UTC), so every planned send
is due when the fan-out opens and phase 6 enqueues all 10,000 jobs.

Not here: the enroll job's finished record (it is enqueued in phase 2, never run)
and the send jobs' finished records and node results (they need the sends to run;
job retention is the engine's, see bench/RESULTS.md, memory).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from chronoq import App
from chronoq.campaigns import (
    CampaignContext,
    CampaignSpec,
    Recipient,
    campaign_step,
    campaigns,
    install,
    runner,
)
from chronoq.campaigns.grant import Granted, grant
from chronoq.campaigns.pacing import Pacing
from chronoq.core.serialization import dumps, loads
from chronoq.workflows.engine import Workflows

REDIS = "/usr/bin/redis-server"
STEP, TASK, SEND_QUEUE = "email", "outreach.email", "sends"

Accounts = list[tuple[str, str, list[Any]]]  # (account, its zone, its recipients)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_server(extra: list[str]) -> Iterator[int]:
    folder = Path(tempfile.mkdtemp(prefix="cq-cmpbench-"))
    port = free_port()
    command = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
               "--save", "", "--appendonly", "no", *extra]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        conn = redis.Redis(port=port)
        for _ in range(200):
            try:
                conn.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        conn.close()
        yield port
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def used(conn: redis.Redis) -> int:
    return int(conn.info("memory")["used_memory"])


def spec_of(a: int, account: str, zone: str, found: list[Any], pacing: Pacing) -> CampaignSpec:
    return CampaignSpec.parse({
        "name": f"campaign{a}", "account": account, "timezone": zone,
        "steps": [{"name": STEP, "task": TASK, "each": True}],
        "schedule": {"every": "7d"}, "max_runs": 1, "pacing": pacing.model_dump(mode="json"),
        "recipients": [{"email": p.email, "name": p.name, "zone": p.zone} for p in found],
    })  # fmt: skip


def make_app(url: str, prefix: str) -> App:
    app = App("cmpbench", redis_url=url, prefix=prefix)
    install(app)

    @campaign_step(app, name=TASK, queue=SEND_QUEUE)
    async def email(recipient: dict[str, Any], ctx: CampaignContext) -> str:
        return "never run here"

    return app


class Phases:
    """used_memory deltas of named phases (and MEMORY USAGE of the node hashes
    around the enqueue, to split it)."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self.delta: dict[str, int] = {}
        self._name, self._before = "", 0

    def begin(self, name: str) -> None:
        self._name, self._before = name, used(self.conn)

    def end(self) -> None:
        self.delta[self._name] = used(self.conn) - self._before


def usage_of(conn: redis.Redis, keys: list[str]) -> int:
    pipe = conn.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return sum(int(v or 0) for v in pipe.execute())


def by_pattern(conn: redis.Redis, prefix: str) -> dict[str, dict[str, int]]:
    """MEMORY USAGE (exact: SAMPLES 0) summed per key pattern: ids and numbers
    become '*'."""
    keys = [k.decode() for k in conn.scan_iter(f"{prefix}:*", count=1000)]
    sizes = Counter[str]()
    counts = Counter[str]()
    pipe = conn.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    for key, size in zip(keys, pipe.execute(), strict=True):
        pattern = re.sub(r"campaign\d+|acct\d+@sender\.example", "<c>", key)
        pattern = re.sub(r"\d{4}-\d\d-\d\d", "<day>", pattern)
        pattern = re.sub(r"[0-9a-z]{20,}|\b\d+\b", "*", pattern)
        sizes[pattern] += int(size or 0)
        counts[pattern] += 1
    return {
        p: {"keys": counts[p], "bytes": sizes[p]} for p in sorted(sizes, key=lambda p: -sizes[p])
    }


def sample(conn: redis.Redis, prefix: str) -> dict[str, Any]:
    """One recipient's entries as stored (campaign0, its first recipient), with
    their lengths: what each byte per recipient is made of."""
    c, w = f"{prefix}:{{cmp:campaign0}}", f"{prefix}:{{wf:cmp-campaign0-1}}"
    email = sorted(k.decode() for k in conn.hkeys(f"{c}:recipients"))[0]
    node = conn.hget(f"{w}:nodes", "1.0") or b""
    job_id = loads(node.decode())["job"]
    job_keys = [k.decode() for k in conn.scan_iter(f"*{job_id}*")]
    out: dict[str, Any] = {
        "recipient_entry": (conn.hget(f"{c}:recipients", email) or b"").decode(),
        "fan_out_node": node.decode(),
        "mark": (conn.hget(f"{c}:marks", f"{STEP}|{email}") or b"").decode(),
        "job_keys": {},
        "encodings": {
            key: conn.object("encoding", key).decode()
            for key in (f"{c}:recipients", f"{c}:marks", f"{w}:nodes", f"{c}:cmp")
        },
    }
    for key in job_keys:
        kind = conn.type(key).decode()
        entry: dict[str, Any] = {"type": kind, "memory_usage": conn.memory_usage(key, samples=0),
                                 "encoding": conn.object("encoding", key).decode()}  # fmt: skip
        if kind == "hash":
            entry["fields"] = {f.decode(): len(v) for f, v in conn.hgetall(key).items()}
        out["job_keys"][key] = entry
    out["lengths"] = {k: len(v) for k, v in out.items() if isinstance(v, str)}
    return out


async def measure_memory(
    accounts: Accounts, pacing: Pacing, plan_start_ms: int, server_args: list[str]
) -> dict[str, Any]:
    total = sum(len(found) for _, _, found in accounts)
    clock = runner.app_clock
    runner.app_clock = lambda: plan_start_ms / 1000  # the plan's clock, as tests set it
    try:
        with private_server(server_args) as port:
            url, prefix = f"redis://127.0.0.1:{port}/0", "bench"
            conn = redis.Redis(port=port)
            try:
                result = await _phases(conn, make_app(url, prefix), prefix, accounts, pacing)
                result["by_key_pattern"] = by_pattern(conn, prefix)
                result["sample"] = sample(conn, prefix)
                result["redis_version"] = conn.info("server")["redis_version"]
                result["server_args"] = server_args
            finally:
                conn.close()
    finally:
        runner.app_clock = clock
    if result["granted_at_planned_slot"] != total:
        raise RuntimeError(f"only {result['granted_at_planned_slot']} of {total} granted")
    phases = result["delta_bytes"]
    result["recipients"] = total
    result["bytes_per_recipient"] = {k: round(v / total, 1) for k, v in phases.items()}
    result["total_bytes_per_recipient"] = round(sum(phases.values()) / total, 1)
    return result


async def _phases(
    conn: redis.Redis, app: App, prefix: str, accounts: Accounts, pacing: Pacing
) -> dict[str, Any]:
    names = [f"campaign{a}" for a in range(len(accounts))]
    specs = [spec_of(a, *accounts[a], pacing) for a in range(len(accounts))]
    p = Phases(conn)
    async with campaigns(app) as c:
        await c.forecast(specs[0])  # load the scripts and warm the connection first
        p.begin("create")
        for spec in specs:
            await c.create(spec)
        p.end()
        p.begin("run_start")
        for name in names:
            started = await runner.start_run(app, name)
            if not started["started"]:
                raise RuntimeError(f"{name}: run not started: {started}")
        p.end()
        planned = await _enrol_and_fan_out(p, app, c.workflows, names)
        node_keys = [f"{prefix}:{{wf:cmp-{n}-1}}:nodes" for n in names]
        nodes_before = usage_of(conn, node_keys)
        p.begin("send_jobs")
        for name in names:
            await c.workflows.settle(f"cmp-{name}-1")
        p.end()
        node_growth = usage_of(conn, node_keys) - nodes_before
        jobs = await _jobs_of(c.workflows.store, names)
        p.begin("grant_counters")
        granted = 0
        for name, spec in zip(names, specs, strict=True):
            for item in sorted(planned[name], key=lambda i: int(i["send_at"])):
                answer = await grant(
                    c.client.backend.campaign_sends, spec.pacing, account=spec.account,
                    account_zone=spec.timezone, recipient=Recipient.from_found(item),
                    grant_id=f"{name}:{STEP}:{item['email'].lower()}", now_ms=int(item["send_at"]),
                )  # fmt: skip
                granted += isinstance(answer, Granted)
        p.end()
        p.begin("step_marks")
        stops = list(specs[0].stops.on)
        for (name, email), job_id in jobs.items():
            began = await c.store.step_begin(name, STEP, email, job_id, stops_on=stops,
                                             suppressed="")  # fmt: skip
            if began is None or began.decision != "go":
                raise RuntimeError(f"{name} {email}: step_begin said {began}")
            await c.store.step_end(name, STEP, email, job_id)
        p.end()
    return {"delta_bytes": p.delta, "send_jobs_node_growth_bytes": node_growth,
            "send_jobs_enqueued": len(jobs), "granted_at_planned_slot": granted}  # fmt: skip


async def _enrol_and_fan_out(
    p: Phases, app: App, flows: Workflows, names: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Phases 3-5: what the enroll job does, then what the engine does when it ends."""
    store = flows.store
    p.begin("enrolment")
    planned: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        w = await store.load(f"cmp-{name}-1")
        if w is None or w.nodes["0"]["state"] != "enqueued":
            raise RuntimeError(f"{name}: the enroll node is not enqueued: {w}")
        args, kwargs = loads(w.nodes["0"]["call"])
        kwargs.pop("run")  # the enroll task takes it; its body does not
        found = args[0] if args else None  # the task's default: the first stage has none
        planned[name] = await runner.enroll_recipients(app, found, **kwargs)
    p.end()
    p.begin("enroll_result")
    for name in names:
        w = await store.load(f"cmp-{name}-1")
        assert w is not None
        await store.finish(w.id, "0", w.nodes["0"]["job"], outcome="succeeded",
                           result=dumps(planned[name]), error="")  # fmt: skip
    p.end()
    p.begin("fan_out_nodes")
    for name in names:
        w = await store.load(f"cmp-{name}-1")
        assert w is not None and w.open == 0
        await flows._open_next(w, {"0": w.nodes["0"]})  # what settle does next
    p.end()
    return planned


async def _jobs_of(store: Any, names: list[str]) -> dict[tuple[str, str], str]:
    """(campaign, email) -> the send job its node was enqueued as."""
    jobs: dict[tuple[str, str], str] = {}
    for name in names:
        w = await store.load(f"cmp-{name}-1")
        assert w is not None
        for nid, node in w.nodes.items():
            if nid == "0":
                continue
            if node["state"] != "enqueued":
                raise RuntimeError(f"{name} node {nid} is {node['state']}, not enqueued")
            item = loads(node["call"])[0][0]
            jobs[(name, item["email"].lower())] = node["job"]
    return jobs
