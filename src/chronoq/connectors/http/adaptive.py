"""Lowering a rate limit while a platform pushes back, and raising it back as it
recovers, through chronoq's public limits API (so the change reaches every worker
at its next decision).

On a throttle reply the limit's rate is cut by `factor` (per hour, never below
`floor_per_hour`), and the rate it had first is remembered in a record. After
`recover_after` successes in a row the rate grows by `step`, until it is back at
that first rate and the record is dropped. A throttle during the climb cuts again.
"""

from __future__ import annotations

import math

from chronoq import Client, Limit, LimitNotFound, Limits, Period

NAMESPACE = "http-adaptive"
HOUR_MS = 3_600_000


class AdaptiveRate:
    def __init__(
        self,
        client: Client,
        limit_name: str,
        *,
        factor: float = 0.5,
        step: float = 1.5,
        recover_after: int = 10,
        floor_per_hour: int = 1,
        timezone: str = "UTC",
    ) -> None:
        if not 0 < factor < 1 or step <= 1 or recover_after < 1 or floor_per_hour < 1:
            raise ValueError(
                "AdaptiveRate needs 0 < factor < 1, step > 1, recover_after >= 1, "
                f"floor_per_hour >= 1; got {factor}, {step}, {recover_after}, {floor_per_hour}"
            )
        self.client = client
        self.name = limit_name
        self.factor, self.step = factor, step
        self.recover_after, self.floor = recover_after, floor_per_hour
        self.records = client.records(NAMESPACE)
        self.limits = Limits(client, timezone)

    async def _limit(self) -> Limit | None:
        try:
            return await self.limits.get(self.name)
        except LimitNotFound:
            return None  # nothing to lower: the task runs unlimited

    async def throttled(self) -> Limit | None:
        """Cut the rate; returns the limit as it is now (None: no such limit)."""
        limit = await self._limit()
        if limit is None:
            return None
        state = await self.records.get(self.name) or {"base": limit.rate_text}
        lowered = max(self.floor, math.floor(per_hour(limit) * self.factor))
        if lowered < per_hour(limit):
            limit = await self.limits.update(self.name, rate=f"{lowered}/hour")
        state["ok"] = 0
        await self.records.put(self.name, state)
        return limit

    async def succeeded(self) -> Limit | None:
        """Count a success; after enough, raise the rate a step (None: not lowered)."""
        state = await self.records.get(self.name)
        if state is None:
            return None
        state["ok"] = int(state.get("ok", 0)) + 1
        if state["ok"] < self.recover_after:
            await self.records.put(self.name, state)
            return None
        limit = await self._limit()
        if limit is None:
            await self.records.delete(self.name)
            return None
        count, period = _parse(state["base"])
        base = Limit(self.name, count, Period(period))
        raised = math.ceil(per_hour(limit) * self.step)
        if raised >= per_hour(base):
            await self.records.delete(self.name)
            return await self.limits.update(self.name, rate=str(state["base"]))
        state["ok"] = 0
        await self.records.put(self.name, state)
        return await self.limits.update(self.name, rate=f"{raised}/hour")


def per_hour(limit: Limit) -> float:
    return limit.limit * HOUR_MS / limit.period.ms


def _parse(rate: str) -> tuple[int, str]:
    count, _, period = rate.partition("/")
    return int(count), period
