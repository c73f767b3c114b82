"""A workflow's priority reaches every step's job (a campaign's priority reaches its
sends); without one, each task's own applies."""

from __future__ import annotations

from chronoq import App, Chain, Step, fan_out


async def test_every_step_job_gets_the_workflows_priority(redis_url: str, prefix: str) -> None:
    app = App("wf", redis_url=redis_url, prefix=prefix)

    @app.task(name="wf.send", priority=1)
    def send(address: str) -> str:
        return address

    async with app.client() as client, app.workflows() as flows:
        urgent = await flows.start(Chain([fan_out(send, ["a", "b"])], priority=7))
        plain = await flows.start(Chain([Step(send, "c")]))
        urgent_jobs = [n["job"] for n in (await flows.show(urgent))["stages"][0]["nodes"]]
        (plain_node,) = (await flows.show(plain))["stages"][0]["nodes"]
        assert [(await client.job(j)).priority for j in urgent_jobs] == [7, 7]
        assert (await client.job(plain_node["job"])).priority == 1
