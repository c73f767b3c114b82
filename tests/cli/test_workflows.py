"""`chronoq workflows list|show|pause|resume|cancel`, and `chronoq job` showing the
tree of a step's workflow."""

from __future__ import annotations

from chronoq import App, Chain, Step, fan_out
from tests.cli.helpers import Cli


def test_the_workflow_commands_show_and_steer_one_workflow(
    cli: Cli, redis_url: str, prefix: str
) -> None:
    app = App("cli-wf", redis_url=redis_url, prefix=prefix)

    @app.task(name="cli.add")
    def add(a: int, b: int) -> int:
        return a + b

    chain = Chain([Step(add, 1, 2), fan_out(add, [1, 2], 10, after="1h")], name="demo")
    with app.workflows() as flows:  # no worker: the first step waits in its queue
        wf_id = flows.start(chain)
    listed = cli("workflows", "list", "--json").json()
    assert [(w["id"], w["name"], w["status"], w["stages"]) for w in listed] == [
        (wf_id, "demo", "running", 2)
    ]
    tree = cli("workflows", "show", wf_id, "--json").json()
    first = tree["stages"][0]["nodes"][0]
    assert first["state"] == "enqueued" and first["job"]
    assert tree["stages"][1] == {"index": 1, "kind": "fan_out", "task": "cli.add",
                                 "after": "1h", "nodes": []}  # fmt: skip
    text = cli("workflows", "show", wf_id)
    assert text.code == 0 and "workflow" in text.out and first["job"] in text.out
    job = cli("job", first["job"], "--json").json()
    assert job["workflow"] == f"{wf_id}/0"
    assert job["workflow_tree"]["id"] == wf_id
    assert wf_id in cli("job", first["job"]).out
    assert cli("workflows", "pause", wf_id, "--json").json()["status"] == "paused"
    assert "nothing to pause" in cli("workflows", "pause", wf_id).out
    assert cli("workflows", "resume", wf_id, "--json").json()["status"] == "running"
    assert cli("workflows", "cancel", wf_id, "--json").json()["status"] == "cancelled"
    assert cli("job", first["job"], "--json").json()["status"] == "cancelled"
    with app.sync_client() as client:
        plain = client.enqueue(add, 1, 1)
    assert "workflow_tree" not in cli("job", plain.id, "--json").json()
    missing = cli("workflows", "show", "nope")
    assert missing.code != 0 and "no workflow" in missing.err
