"""A Forecast's JSON form, shared by the API (`GET /v1/campaigns/{name}/forecast`),
`chronoq campaigns forecast --json` and the dashboard's calendar: its sentence,
the sends per account-local day, the last send and the first sends in order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

SLOTS_SHOWN = 100


def slot_dict(slot: Any) -> dict[str, Any]:
    at = datetime.fromtimestamp(slot.at_ms / 1000, UTC).isoformat(timespec="seconds")
    return {"email": slot.email, "at": at.replace("+00:00", "Z"),
            "local_day": slot.local_day.isoformat(), "zone": slot.zone}  # fmt: skip


def forecast_dict(found: Any, slots: int = SLOTS_SHOWN) -> dict[str, Any]:
    """`found`: a `chronoq.campaigns.pacing.Forecast`."""
    return {
        "text": found.text(),
        "total": len(found.slots),
        "by_day": {day.isoformat(): n for day, n in found.by_day.items()},
        "last": slot_dict(found.last) if found.last is not None else None,
        "slots": [slot_dict(s) for s in found.slots[:slots]],
    }
