"""What a campaign step's function is told about the send it makes."""

from __future__ import annotations

from dataclasses import dataclass

from chronoq.campaigns.model import Recipient


@dataclass(frozen=True, slots=True)
class CampaignContext:
    """One step for one recipient: `fn(recipient, ctx)`.

    `ledger_key` names (campaign, step); the email connector adds the recipient
    (`EmailConnector.send(key=ctx.ledger_key, to=...)`), so its send ledger holds
    one entry per (campaign, step, recipient): never the same step twice to one
    recipient, across runs too."""

    campaign: str
    step: str
    run: int
    account: str
    recipient: Recipient
    ledger_key: str
    job_id: str = ""

    @staticmethod
    def key_for(campaign: str, step: str) -> str:
        return f"campaign:{campaign}:{step}"
