"""Campaigns: scheduled outreach of search and per-recipient steps per account,
run as workflows, paced, stoppable, paused and resumed exactly.

```
from chronoq.campaigns import CampaignSpec, campaign_step, campaigns, install

install(app)

@campaign_step(app, name="outreach.email")
async def email(recipient: dict, ctx: CampaignContext) -> str: ...

async with campaigns(app) as c:
    await c.create(CampaignSpec.parse({...}))
```
"""

from chronoq.campaigns.context import CampaignContext
from chronoq.campaigns.model import (
    CampaignSpec,
    CampaignState,
    CampaignStep,
    CampaignView,
    Recipient,
    RunView,
    Schedule,
    StepProgress,
    Stops,
)
from chronoq.campaigns.runner import campaign_step, install
from chronoq.campaigns.service import Campaigns, SyncCampaigns, campaigns

__all__ = [
    "CampaignContext",
    "CampaignSpec",
    "CampaignState",
    "CampaignStep",
    "CampaignView",
    "Campaigns",
    "Recipient",
    "RunView",
    "Schedule",
    "StepProgress",
    "Stops",
    "SyncCampaigns",
    "campaign_step",
    "campaigns",
    "install",
]
