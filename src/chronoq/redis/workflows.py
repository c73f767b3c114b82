"""The workflow store: one record and one node hash per workflow, under the
workflow's own hash tag, changed only by the compare-and-set scripts wf_*.lua.

Every transition is checked by the script against the state it finds, so several
advancers (the worker that ran a step, any process's recovery sweep) may race
over one workflow: one wins each transition, the others change nothing. Two
indexes live in the `{~wf}` slot: every workflow by creation time, and the
workflows needing attention by when (the sweep's work list). They are written
after the workflow's own keys, outside its scripts (another slot): an index entry
that is missing is what the sweep's recheck and `chronoq workflows list` tolerate;
one that is stale is removed by the next sweep that loads the workflow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chronoq.core import serialization
from chronoq.core.errors import ConfigurationError
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import Keyspace, WorkflowKeys
from chronoq.redis.scripts import SCRIPTS

_ID = re.compile(r"^[0-9a-z][0-9a-z_-]{0,63}$")


def check_workflow_id(workflow_id: str) -> str:
    if not _ID.match(workflow_id):
        raise ConfigurationError(
            f"bad workflow id {workflow_id!r}: 1-64 of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit"
        )
    return workflow_id


@dataclass(slots=True)
class StoredWorkflow:
    """A workflow as read: its record's fields, and its nodes (id -> decoded JSON)."""

    id: str
    fields: dict[str, str]
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.fields.get("status", "")

    @property
    def stage(self) -> int:
        return int(self.fields.get("stage", "0"))

    @property
    def open(self) -> int:
        return int(self.fields.get("open", "0"))

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = serialization.loads(self.fields.get("spec", "{}"))
        return spec


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class WorkflowStore:
    def __init__(self, redis: AsyncRedis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace

    def _wf(self, workflow_id: str) -> WorkflowKeys:
        return self.keys.workflow(check_workflow_id(workflow_id))

    async def create(
        self, workflow_id: str, spec_json: str, name: str, nodes: dict[str, str]
    ) -> int | None:
        """Store a new workflow with its first stage (node id -> JSON). Returns its
        creation ms, or None when the id exists already."""
        w = self._wf(workflow_id)
        args: list[str] = [spec_json, name]
        for node_id, node in nodes.items():
            args += [node_id, node]
        created = await SCRIPTS.wf_create(self.redis, [w.record, w.nodes], args)
        if not created:
            return None
        await self.redis.zadd(self.keys.workflows, {workflow_id: int(created)})
        return int(created)

    async def load(self, workflow_id: str) -> StoredWorkflow | None:
        w = self._wf(workflow_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(w.record)
            pipe.hgetall(w.nodes)
            record, nodes = await pipe.execute()
        if not record:
            return None
        return StoredWorkflow(
            workflow_id,
            {_text(k): _text(v) for k, v in record.items()},
            {_text(k): serialization.loads(_text(v)) for k, v in nodes.items()},
        )

    async def finish(
        self, workflow_id: str, node: str, job_id: str, *, outcome: str, result: str, error: str
    ) -> tuple[bool, int, str] | None:
        """Record a step's outcome once. Returns (recorded now, unfinished nodes of
        the open stage, status), or None when there is no such workflow or node."""
        w = self._wf(workflow_id)
        reply = await SCRIPTS.wf_finish(
            self.redis, [w.record, w.nodes], [node, job_id, outcome, result, error]
        )
        if not reply:
            return None
        return bool(int(reply[0])), int(reply[1]), _text(reply[2])

    async def open_next(
        self, workflow_id: str, stage: int, nodes: dict[str, str], *, end: str = "", error: str = ""
    ) -> bool:
        """Open stage `stage + 1` with `nodes`, or end the workflow (`end`:
        'completed' or 'failed'), if stage `stage` is open and finished."""
        w = self._wf(workflow_id)
        args: list[str | int] = [stage, end, error]
        for node_id, node in nodes.items():
            args += [node_id, node]
        return bool(await SCRIPTS.wf_open(self.redis, [w.record, w.nodes], args))

    async def release(
        self, workflow_id: str, node_ids: list[str]
    ) -> tuple[str, int, dict[str, dict[str, Any]]]:
        """Release the due pending nodes among `node_ids` while the workflow runs.
        Returns (status, server ms, the nodes released)."""
        w = self._wf(workflow_id)
        reply = await SCRIPTS.wf_release(self.redis, [w.record, w.nodes], node_ids)
        if not reply:
            return "", 0, {}
        released = {
            _text(reply[i]): serialization.loads(_text(reply[i + 1]))
            for i in range(2, len(reply), 2)
        }
        return _text(reply[0]), int(reply[1]), released

    async def enqueued(self, workflow_id: str, jobs: list[tuple[str, str, str]]) -> str:
        """Record (node, job id, queue) of released nodes that were enqueued. Returns
        the workflow's status ('' when gone)."""
        w = self._wf(workflow_id)
        args = [part for triple in jobs for part in triple]
        reply = await SCRIPTS.wf_enqueued(self.redis, [w.record, w.nodes], args)
        return _text(reply[1])

    async def control(self, workflow_id: str, action: str) -> tuple[str, str] | None:
        """Pause, resume or cancel. Returns (status before, status after)."""
        w = self._wf(workflow_id)
        reply = await SCRIPTS.wf_control(self.redis, [w.record], [action])
        if not reply:
            return None
        return _text(reply[0]), _text(reply[1])

    # -- the indexes ---------------------------------------------------------

    async def attend_at(self, workflow_id: str, at_ms: int, *, sooner_only: bool = False) -> None:
        """Ask the sweep to look at the workflow at `at_ms` (`sooner_only`: unless
        it is asked to sooner already)."""
        await self.redis.zadd(self.keys.workflows_due, {workflow_id: at_ms}, lt=sooner_only)

    async def unattend(self, workflow_id: str) -> None:
        await self.redis.zrem(self.keys.workflows_due, workflow_id)

    async def claim_due(self, *, lease_ms: int, limit: int) -> list[str]:
        reply = await SCRIPTS.wf_due_claim(self.redis, [self.keys.workflows_due], [lease_ms, limit])
        return [_text(v) for v in reply]

    async def ids(self, *, limit: int = 50) -> list[tuple[str, int]]:
        """The newest workflows first: (id, creation ms)."""
        found: list[Any] = await self.redis.zrevrange(
            self.keys.workflows, 0, limit - 1, withscores=True
        )
        return [(_text(pair[0]), int(pair[1])) for pair in found]

    async def records(self, workflow_ids: list[str]) -> list[dict[str, str]]:
        """The records (without nodes) of these workflows, in order ({} when gone)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for workflow_id in workflow_ids:
                pipe.hgetall(self._wf(workflow_id).record)
            replies = await pipe.execute()
        return [{_text(k): _text(v) for k, v in r.items()} for r in replies]
