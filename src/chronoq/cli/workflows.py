"""`chronoq workflows list|show|pause|resume|cancel`: workflows (chains of steps,
fan-outs) as one tree each; `chronoq job ID` shows the tree of a step's workflow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from rich.tree import Tree

from chronoq.cli.common import (
    AppOption,
    JsonOption,
    PrefixOption,
    RedisUrlOption,
    Target,
    console,
    emit_json,
)
from chronoq.workflows import Workflows

T = TypeVar("T")

workflows = typer.Typer(
    help="Workflows: chains of steps with delays, fan-outs and fan-ins.", no_args_is_help=True
)
IdArgument = Annotated[str, typer.Argument(metavar="ID", help="Workflow id.")]


def _with(target: Target, action: Callable[[Workflows], Awaitable[T]]) -> T:
    return target.with_client(lambda client: action(Workflows(client)))


@workflows.command("list")
def list_workflows(
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1)] = 20,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """The newest workflows first, with their status and stage."""
    found = _with(Target.resolve(app, redis_url, prefix), lambda w: w.list(limit=limit))
    if json_out:
        emit_json(found)
        return
    table = Table(title="workflows")
    for column in ("id", "name", "status", "stage", "created", "error"):
        table.add_column(column)
    for item in found:
        stage = f"{item['stage'] + 1}/{item['stages']}"
        table.add_row(item["id"], item["name"], item["status"], stage, item["created"] or "",
                      item["error"] or "")  # fmt: skip
    console().print(table)


@workflows.command()
def show(
    workflow_id: IdArgument,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """One workflow as a tree: its stages, each step's job id, state and result."""
    found = _with(Target.resolve(app, redis_url, prefix), lambda w: w.show(workflow_id))
    if json_out:
        emit_json(found)
        return
    console().print(render_tree(found))


def render_tree(view: dict[str, Any]) -> Tree:
    """The text form of `chronoq.workflows.view.tree`."""
    title = f"workflow {view['id']} {view['name']!r}: {view['status']}"
    if view.get("error"):
        title += f" ({view['error']})"
    root = Tree(title)
    for stage in view["stages"]:
        after = f" after {stage['after']}" if stage["after"] else ""
        branch = root.add(f"{stage['index']}. {stage['kind']} {stage['task']}{after}")
        for node in stage["nodes"]:
            item = "" if node["item"] is None else f"[{node['item']}] "
            line = f"{item}{node['state']} job {node['job'] or '-'}"
            if node["state"] == "pending" and node["due"]:
                line += f" due {node['due']}"
            if node["error"]:
                line += f": {node['error'].strip().splitlines()[-1]}"
            branch.add(line)
    return root


def _control(action: str) -> Callable[..., None]:
    def command(
        workflow_id: IdArgument,
        app: AppOption = None,
        redis_url: RedisUrlOption = None,
        prefix: PrefixOption = None,
        json_out: JsonOption = False,
    ) -> None:
        target = Target.resolve(app, redis_url, prefix)
        before, after = _with(target, lambda w: getattr(w, action)(workflow_id))
        if json_out:
            emit_json({"id": workflow_id, "before": before, "status": after})
        elif before == after:
            console().print(f"workflow {workflow_id} is {after}: nothing to {action}")
        else:
            console().print(f"workflow {workflow_id}: {before} -> {after}")

    command.__doc__ = {
        "pause": "Pause a workflow: no new step starts (running ones finish).",
        "resume": "Resume a paused workflow exactly where it stopped.",
        "cancel": "Cancel a workflow: nothing more starts; its waiting jobs are cancelled.",
    }[action]
    return command


for _action in ("pause", "resume", "cancel"):
    workflows.command(_action)(_control(_action))
