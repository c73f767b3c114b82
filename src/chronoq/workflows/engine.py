"""Driving workflows: start, advance, recover, pause, resume, cancel.

Each node (one step's job) goes pending -> released -> enqueued -> succeeded,
dead or cancelled, each move a compare-and-set script on the workflow's slot
(chronoq.redis.workflows). A job cannot be enqueued atomically with its
predecessor's completion (the queue and the workflow are different slots on a
Cluster), so the next step's job is *idempotently keyed* instead: released first
(recorded), then enqueued under the idempotency key `wf:<id>:<node>`, then its job
id recorded. A crash anywhere in between leaves a node released but not enqueued,
which the next `settle` enqueues again, getting the same job back; a step whose job
finished while nobody advanced the workflow is found by `settle` reading the job.
So every step is enqueued exactly once, however many workers and schedulers race.

`settle` is the one place that moves a workflow on; the worker calls it when a step's
job ended (`step_finished`: plain jobs never get here), and the sweep
(`chronoq.workflows.sweep`) calls it for workflows whose attention time came: a
delayed step now due, or a recheck of steps in flight (RECHECK_MS).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from chronoq.client import Client, JobRequest
from chronoq.core import serialization
from chronoq.core.errors import ConfigurationError, InvalidJobState, JobNotFound
from chronoq.core.ids import new_job_id
from chronoq.core.job import Job, JobStatus
from chronoq.loop_thread import LoopThread
from chronoq.manage.base import Opened
from chronoq.redis.workflows import StoredWorkflow, WorkflowStore, check_workflow_id
from chronoq.workflows.model import Chain, Plan
from chronoq.workflows.view import summary, tree

log = logging.getLogger("chronoq.workflows")

RECHECK_MS = 30_000  # how soon a workflow with steps in flight is looked at again
LIVE = ("released", "enqueued")
ENDED = ("completed", "failed", "cancelled")
_MAX_ROUNDS = 10_000  # stages one settle may open in a row (empty fan-outs)


def _outcome(status: JobStatus) -> str:
    if status is JobStatus.SUCCEEDED:
        return "succeeded"
    if status is JobStatus.CANCELLED:
        return "cancelled"
    return "dead"  # dead, expired, skipped: the step did not do its work


class Workflows(Opened):
    """Workflows over one client (`app.workflows()` or `Workflows(client)`)."""

    def __init__(self, client: Client, timezone: str = "UTC") -> None:
        super().__init__(client, timezone)
        self.store: WorkflowStore = client.backend.workflows

    async def start(self, chain: Chain, *, workflow_id: str | None = None) -> str:
        """Store the workflow and start its first stage. Returns its id. A given id
        that exists already is refused (ConfigurationError): ids name one workflow."""
        spec = chain.to_wire()
        wf_id = check_workflow_id(workflow_id) if workflow_id else new_job_id("wf")
        plan = Plan.of(spec)
        now = int(time.time() * 1000)
        nodes = plan.nodes(0, None, now, first=True)
        encoded = {nid: serialization.dumps(node) for nid, node in nodes.items()}
        created = await self.store.create(wf_id, serialization.dumps(spec), chain.name, encoded)
        if created is None:
            raise ConfigurationError(f"workflow {wf_id!r} exists already")
        await self.settle(wf_id)
        return wf_id

    async def step_finished(self, marker: str, job_id: str) -> None:
        """A step's job ended (as the worker recorded it): record it and move on."""
        wf_id, _, node = marker.partition("/")
        try:
            job = await self.client.job(job_id)
        except JobNotFound:
            return
        if not job.status.is_finished:
            return  # retrying, or not recorded yet: the sweep looks again
        result = serialization.dumps(job.result) if job.status is JobStatus.SUCCEEDED else ""
        reply = await self.store.finish(
            wf_id, node, job_id, outcome=_outcome(job.status), result=result, error=job.error or ""
        )
        if reply is not None and reply[1] == 0:
            await self.settle(wf_id)

    async def settle(self, wf_id: str) -> None:
        """Bring one workflow up to date: record finished jobs, open the next stage
        when one ended, start due steps, and say when to look again."""
        for _ in range(_MAX_ROUNDS):
            w = await self.store.load(wf_id)
            if w is None or w.status in ENDED:
                if w is not None and w.status == "cancelled":
                    await self._cancel_jobs(w)
                await self.store.unattend(wf_id)
                return
            current = {k: v for k, v in w.nodes.items() if v["stage"] == w.stage}
            await self._enqueue(w, {k: v for k, v in current.items() if v["state"] == "released"})
            if await self._record_finished(w, current):
                continue  # read it again: the stage may have ended
            if w.open == 0:
                await self._open_next(w, current)
                continue
            pending = [k for k, v in current.items() if v["state"] == "pending"]
            if pending and w.status == "running":
                _, _, released = await self.store.release(wf_id, pending)
                await self._enqueue(w, released)
            await self._attend(wf_id)
            return
        log.warning("chronoq: workflow %s opened %d stages in one go", wf_id, _MAX_ROUNDS)

    async def _enqueue(self, w: StoredWorkflow, nodes: dict[str, dict[str, Any]]) -> None:
        if not nodes:
            return
        order = sorted(nodes)
        priority = w.spec.get("priority")
        requests = []
        for nid in order:
            args, kwargs = serialization.loads(nodes[nid]["call"])
            key, marker = f"wf:{w.id}:{nid}", f"{w.id}/{nid}"
            requests.append(
                JobRequest(
                    nodes[nid]["task"],
                    args,
                    kwargs,
                    idempotency_key=key,
                    workflow=marker,
                    priority=priority,
                )
            )
        jobs = await self.client.enqueue_many(requests)
        made = [(nid, job.id, job.queue) for nid, job in zip(order, jobs, strict=True)]
        if await self.store.enqueued(w.id, made) == "cancelled":
            # Cancelled between release and now: these jobs must not run either.
            for job in jobs:
                with contextlib.suppress(JobNotFound, InvalidJobState):
                    await self.client.cancel(job.id)
            fresh = await self.store.load(w.id)
            if fresh is not None:
                await self._record_finished(fresh, fresh.nodes)

    async def _record_finished(self, w: StoredWorkflow, current: dict[str, dict[str, Any]]) -> bool:
        """Read the jobs of enqueued nodes (one pipelined read per queue); record those
        that finished. Returns whether any was recorded now."""
        by_queue: dict[str, list[str]] = {}
        for nid, node in current.items():
            if node["state"] == "enqueued":
                by_queue.setdefault(node.get("queue") or "", []).append(nid)
        recorded = False
        for queue, nids in by_queue.items():
            jobs = {
                job.id: job for job in await self._jobs(queue, [current[n]["job"] for n in nids])
            }
            for nid in nids:
                job_id = current[nid]["job"]
                job = jobs.get(job_id)
                if job is None:
                    reply = await self.store.finish(
                        w.id, nid, job_id, outcome="dead", result="",
                        error="the job's record is gone",
                    )  # fmt: skip
                elif job.status.is_finished:
                    ok = job.status is JobStatus.SUCCEEDED
                    reply = await self.store.finish(
                        w.id, nid, job.id, outcome=_outcome(job.status),
                        result=serialization.dumps(job.result) if ok else "", error=job.error or "",
                    )  # fmt: skip
                else:
                    continue
                recorded = recorded or (reply is not None and reply[0])
        return recorded

    async def _jobs(self, queue: str, ids: list[str]) -> list[Job]:
        if queue:
            return await self.client.inspector.get_jobs(queue, ids)
        found = []  # a node recorded without its queue: look each job up
        for job_id in ids:
            with contextlib.suppress(JobNotFound):
                found.append(await self.client.job(job_id))
        return found

    async def _open_next(self, w: StoredWorkflow, current: dict[str, dict[str, Any]]) -> None:
        plan = Plan.of(w.spec)
        stage = w.stage
        ended = max((int(n.get("finished", 0)) for n in current.values()), default=0)
        ended = ended or int(time.time() * 1000)
        if plan.stages[stage]["kind"] == "step":
            node = current[str(stage)]
            if node["state"] != "succeeded":
                why = f"step {stage} ({node['task']}) ended {node['state']}"
                if node.get("error"):
                    why += f": {node['error']}"
                await self.store.open_next(w.id, stage, {}, end="failed", error=why)
                return
            previous: Any = _result(node)
        else:
            previous = [branch_outcome(n) for _, n in sorted(current.items(), key=_item_order)]
        if stage + 1 == len(plan.stages):
            await self.store.open_next(w.id, stage, {}, end="completed")
            return
        try:
            nodes = plan.nodes(stage + 1, previous, ended, first=False)
        except ConfigurationError as exc:
            await self.store.open_next(w.id, stage, {}, end="failed", error=str(exc))
            return
        encoded = {nid: serialization.dumps(n) for nid, n in nodes.items()}
        await self.store.open_next(w.id, stage, encoded)

    async def _attend(self, wf_id: str) -> None:
        """When to look at the workflow next, from what it holds now."""
        w = await self.store.load(wf_id)
        if w is None or w.status in ENDED:
            await self.store.unattend(wf_id)
            return
        current = [v for v in w.nodes.values() if v["stage"] == w.stage]
        dues = [int(v["due"]) for v in current if v["state"] == "pending"]
        live = any(v["state"] in LIVE for v in current)
        now = int(time.time() * 1000)
        at: int | None = now + RECHECK_MS if live else None
        if dues and w.status == "running":
            at = min(dues) if at is None else min(at, *dues)
        if at is None:
            await self.store.unattend(wf_id)  # paused with nothing in flight: resume asks
        else:
            await self.store.attend_at(wf_id, at)

    async def _cancel_jobs(self, w: StoredWorkflow) -> None:
        for node in w.nodes.values():
            if node["state"] == "enqueued":
                with contextlib.suppress(JobNotFound, InvalidJobState):
                    await self.client.cancel(node["job"])
        await self._record_finished(w, w.nodes)  # the waiting ones ended at once

    # -- read ------------------------------------------------------------------

    async def show(self, wf_id: str) -> dict[str, Any]:
        """The workflow as one tree (`chronoq.workflows.view.tree`)."""
        w = await self.store.load(wf_id)
        if w is None:
            raise JobNotFound(f"no workflow with id {wf_id!r}")
        return tree(w)

    async def list(self, *, limit: int = 50) -> list[dict[str, Any]]:
        """The newest workflows first, one summary each."""
        ids = [wf_id for wf_id, _ in await self.store.ids(limit=limit)]
        records = await self.store.records(ids)
        return [summary(wf_id, r) for wf_id, r in zip(ids, records, strict=True) if r]

    # -- control -------------------------------------------------------------

    async def pause(self, wf_id: str) -> tuple[str, str]:
        """No step starts until resume (steps already started run to their end)."""
        return await self._control(wf_id, "pause")

    async def resume(self, wf_id: str) -> tuple[str, str]:
        """Continue where the workflow stopped: every due step starts, none twice."""
        changed = await self._control(wf_id, "resume")
        await self.settle(wf_id)
        return changed

    async def cancel(self, wf_id: str) -> tuple[str, str]:
        """End the workflow: nothing more starts; its waiting and running jobs are
        cancelled."""
        changed = await self._control(wf_id, "cancel")
        await self.settle(wf_id)
        return changed

    async def _control(self, wf_id: str, action: str) -> tuple[str, str]:
        reply = await self.store.control(wf_id, action)
        if reply is None:
            raise JobNotFound(f"no workflow with id {wf_id!r}")
        return reply


def _result(node: dict[str, Any]) -> Any:
    text = node.get("result")
    return serialization.loads(text) if text else None


def _item_order(entry: tuple[str, dict[str, Any]]) -> int:
    return int(entry[1].get("item") or 0)


def branch_outcome(node: dict[str, Any]) -> dict[str, Any]:
    """What a fan-in sees of one branch."""
    args, _ = serialization.loads(node["call"])
    return {
        "item": args[0] if args else None,
        "status": node["state"],
        "result": _result(node),
        "error": node.get("error"),
    }


class SyncWorkflows:
    """`with app.workflows() as w:` in sync code: the same operations, blocking."""

    def __init__(self, workflows: Workflows, thread: LoopThread) -> None:
        self._w = workflows
        self._thread = thread

    def start(self, chain: Chain, *, workflow_id: str | None = None) -> str:
        return self._thread.run(self._w.start(chain, workflow_id=workflow_id))

    def show(self, wf_id: str) -> dict[str, Any]:
        return self._thread.run(self._w.show(wf_id))

    def list(self, *, limit: int = 50) -> list[dict[str, Any]]:
        return self._thread.run(self._w.list(limit=limit))

    def pause(self, wf_id: str) -> tuple[str, str]:
        return self._thread.run(self._w.pause(wf_id))

    def resume(self, wf_id: str) -> tuple[str, str]:
        return self._thread.run(self._w.resume(wf_id))

    def cancel(self, wf_id: str) -> tuple[str, str]:
        return self._thread.run(self._w.cancel(wf_id))
