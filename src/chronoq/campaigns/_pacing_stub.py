"""PLACEHOLDER until the cmp-pacing branch lands (it owns the send rules:
`chronoq.campaigns.pacing` and the grant store `chronoq.redis.campaign_sends`).

Only what the core needs to run, written against ISSUE12.md's interface: the
`Pacing` and `Warmup` models, a `plan` that gives every recipient `start_ms`, and
a grant that always grants. Delete this file when pacing.py merges and import
from it instead (model.py, runner.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict


class Warmup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: int
    step: int
    every_days: int = 1


class Pacing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    windows: list[str] = []
    per_day: int | None = None
    per_domain_per_day: int | None = None
    warmup: Warmup | None = None


@dataclass(frozen=True, slots=True)
class Slot:
    email: str
    at_ms: int
    local_day: str


def plan(spec: Any, recipients: list[Any], start_ms: int, usage: Any = None) -> list[Slot]:
    """PLACEHOLDER: every recipient at `start_ms`."""
    return [Slot(r.email.lower(), start_ms, "") for r in recipients]
