"""The read model: a workflow as one JSON tree (stages, their nodes with job ids
and states), for `chronoq workflows show`, `chronoq job` and the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chronoq.core import serialization
from chronoq.redis.workflows import StoredWorkflow


def _iso(ms: Any) -> str | None:
    if ms in (None, ""):
        return None
    return datetime.fromtimestamp(int(float(ms)) / 1000, UTC).isoformat()


def _node(node_id: str, node: dict[str, Any]) -> dict[str, Any]:
    result = node.get("result")
    return {
        "node": node_id,
        "item": node.get("item"),
        "state": node["state"],
        "job": node.get("job"),
        "queue": node.get("queue"),
        "due": _iso(node.get("due")),
        "finished": _iso(node.get("finished")),
        "result": serialization.loads(result) if result else None,
        "error": node.get("error"),
    }


def summary(workflow_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """One line of `chronoq workflows list`."""
    spec = serialization.loads(fields.get("spec", "{}"))
    return {
        "id": workflow_id,
        "name": fields.get("name", ""),
        "status": fields.get("status", "gone"),
        "stage": int(fields.get("stage", "0")),
        "stages": len(spec.get("stages", ())),
        "created": _iso(fields.get("created")),
        "updated": _iso(fields.get("updated")),
        "error": fields.get("error"),
    }


def tree(w: StoredWorkflow) -> dict[str, Any]:
    """The whole workflow: its summary, then each stage with its nodes (none yet
    for a stage not opened), branches in item order."""
    out = summary(w.id, w.fields)
    out["ended"] = _iso(w.fields.get("ended"))
    by_stage: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for node_id, node in w.nodes.items():
        by_stage.setdefault(int(node["stage"]), []).append((node_id, node))
    stages = []
    for index, stage in enumerate(w.spec.get("stages", ())):
        nodes = sorted(by_stage.get(index, []), key=lambda e: e[1].get("item") or 0)
        stages.append({
            "index": index, "kind": stage["kind"], "task": stage["task"],
            "after": stage.get("after"), "nodes": [_node(i, n) for i, n in nodes],
        })  # fmt: skip
    out["stages"] = stages
    return out
