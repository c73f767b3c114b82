"""A fan-out's per-item due time (`FanOut(..., at="send_at")`): each branch waits
until the later of its stage's due time and its own."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from chronoq import App, Chain, ConfigurationError, FanOut, fan_out
from chronoq.workflows.model import Plan
from tests.worker.helpers import running_worker, wait_until


def test_each_branch_is_due_at_the_later_of_the_stage_and_its_item() -> None:
    now = 1_700_000_000_000
    later = datetime.fromtimestamp((now + 90_000) / 1000, UTC).isoformat()
    items = [{"n": 0}, {"n": 1, "at": now + 60_000}, {"n": 2, "at": later},
             {"n": 3, "at": now - 60_000}, 7]  # fmt: skip
    spec = Chain([fan_out("t", items, at="at", after="30s")]).to_wire()
    nodes = Plan.of(spec).nodes(0, None, now, first=True)
    dues = [nodes[f"0.{i}"]["due"] - now for i in range(5)]
    assert dues == [30_000, 60_000, 90_000, 30_000, 30_000]


@pytest.mark.parametrize("bad", ["tomorrow", "2030-01-01T09:00:00", True, [1]])
def test_a_bad_item_due_is_refused_naming_the_item_and_field(bad: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^fan-out item 1: 'send_at'"):
        Chain([FanOut("t", [{"send_at": 1}, {"send_at": bad}], at="send_at")]).to_wire()


async def test_a_branch_waits_for_its_own_due_time(redis_url: str, prefix: str) -> None:
    app = App("wf", redis_url=redis_url, prefix=prefix)
    app.settings.workflow_sweep = 0.05
    log = redis.Redis.from_url(redis_url, decode_responses=True)

    @app.task(name="wf.mark", max_retries=0)
    def mark(item: dict[str, int]) -> None:
        log.rpush(f"{prefix}:calls", f"{item['n']}:{time.time() * 1000:.0f}")

    start = int(time.time() * 1000)
    due = start + 1500
    items = [{"n": 0}, {"n": 1, "send_at": due}, {"n": 2, "send_at": start - 5000}]
    async with app.workflows() as w, running_worker(app, concurrency=3):
        wf_id = await w.start(Chain([FanOut("wf.mark", items, at="send_at")]))

        async def done() -> bool:
            return (await w.show(wf_id))["status"] == "completed"

        await wait_until(done, timeout=20, interval=0.02)
        tree = await w.show(wf_id)
    ran = dict(c.split(":") for c in log.lrange(f"{prefix}:calls", 0, -1))
    assert sorted(ran) == ["0", "1", "2"]
    assert int(ran["1"]) >= due  # not before its own time
    assert int(ran["0"]) < due and int(ran["2"]) < due  # the others did not wait for it
    node_due = {n["item"]: n["due"] for n in tree["stages"][0]["nodes"]}
    expected = datetime.fromtimestamp(due / 1000, UTC)
    assert abs(datetime.fromisoformat(node_due[1]) - expected) < timedelta(milliseconds=1)
