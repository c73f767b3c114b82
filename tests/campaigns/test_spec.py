"""Bad campaign specs are refused with the field named; a good one is stored with
its schedule. No worker needed."""

from __future__ import annotations

from typing import Any

import pytest

from chronoq import CampaignNotFound, ConfigurationError
from chronoq.campaigns import CampaignSpec, campaigns
from chronoq.campaigns.chain import build_chain, layout
from tests.campaigns.helpers import CampaignApp


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Bad Name"}, "campaign name"),
        ({"timezone": "Mars/Olympus"}, "campaign timezone"),
        ({"schedule": {"cron": "0 9 * * *", "every": "1d"}}, "campaign schedule"),
        ({"schedule": {}}, "campaign schedule"),
        ({"schedule": {"cron": "61 9 * * *"}}, "campaign schedule.cron"),
        ({"schedule": {"once": "2030-01-01T09:00:00"}}, "campaign schedule.once"),
        ({"schedule": {"every": "1d", "start": "2030-01-01T09:00:00"}}, "campaign schedule.start"),
        ({"steps": []}, "campaign steps"),
        ({"steps": [{"name": "a", "task": "t.search", "after": "soon"}]}, "campaign steps.0.after"),
        ({"steps": [{"name": "a", "task": "t.search", "colour": 1}]}, "campaign steps.0.colour"),
        ({"steps": [{"name": "a", "task": "t.email", "each": True}]}, "campaign recipients"),
        ({"pacing": {"windows": ["someday 9-5"]}}, "campaign pacing.windows: windows[0]"),
        ({"steps": [{"name": "a", "task": "t"}, {"name": "a", "task": "t"}]}, "campaign steps"),
        (
            {"steps": [{"name": "a", "task": "t", "after": "2 business days"}]},
            "campaign pacing.windows",
        ),
        ({"max_runs": 0}, "campaign max_runs"),
        ({"recipients": [{"email": "nobody"}]}, "campaign recipients.0.email"),
        ({"recipients": [{"email": "a@b.co", "zone": "Nowhere/X"}]}, "campaign recipients.0.zone"),
    ],
)
def test_a_bad_spec_field_is_named(change: dict[str, Any], field: str) -> None:
    t = CampaignApp("redis://127.0.0.1:6379/0", "unused")
    with pytest.raises(ConfigurationError) as caught:
        CampaignSpec.parse(t.spec(**change))
    assert str(caught.value).startswith(field), str(caught.value)


async def test_create_checks_task_names_against_the_registry_and_names_once(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix)
    steps = [
        {"name": "search", "task": "t.search"},
        {"name": "email", "task": "t.nope", "each": True},
    ]
    async with campaigns(t.app) as c:
        with pytest.raises(ConfigurationError, match=r"^campaign steps\.1\.task: .*'t\.nope'"):
            await c.create(t.spec(steps=steps))
        with pytest.raises(CampaignNotFound):
            await c.get("outreach")
        await c.create(t.spec())
        with pytest.raises(ConfigurationError, match=r"^campaign name: .* exists"):
            await c.create(t.spec())
        schedule = await c.schedules.get("campaign.outreach")
        listed = await c.list()
    assert schedule.definition.task == "chronoq.campaigns.run"
    assert schedule.definition.args == ["outreach"] and schedule.definition.tz == "Europe/Paris"
    assert [v.name for v in listed] == ["outreach"]


def test_a_campaign_run_is_a_chain_an_each_step_enrolls_then_fans_out() -> None:
    t = CampaignApp("redis://127.0.0.1:6379/0", "unused")
    spec = CampaignSpec.parse(
        t.spec(steps=[{"name": "search", "task": "t.search", "kwargs": {"extra": 1}},
                      {"name": "email", "task": "t.email", "each": True, "after": "1h"},
                      {"name": "follow", "task": "t.email", "each": True, "after": "2d"}])
    )  # fmt: skip
    wire = build_chain(spec, 3).to_wire()
    kinds = [(s["kind"], s["task"], s["after"]) for s in wire["stages"]]
    assert kinds == [
        ("step", "t.search", None),
        ("step", "chronoq.campaigns.enroll", "1h"),
        ("fan_out", "t.email", None),
        ("step", "chronoq.campaigns.enroll", "2d"),
        ("fan_out", "t.email", None),
    ]
    assert [s["kwargs"].get("source") for s in wire["stages"][1::2]] == ["found", "carry"]
    assert wire["stages"][2]["at"] == "send_at"
    assert wire["stages"][2]["kwargs"] == {"campaign": "outreach", "run": 3, "step": "email"}
    assert [(r.step, r.role) for r in layout(spec)][:3] == [
        ("search", "once"), ("email", "enroll"), ("email", "each")
    ]  # fmt: skip
