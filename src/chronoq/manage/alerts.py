"""Alert rules, channels and silences managed from Python: `app.alerts()`."""

from __future__ import annotations

import builtins
import time
from typing import Any

from chronoq.client import Client
from chronoq.core.alerts import DEFAULT_RULES, AlertRule, Channel, Silence, merge_rules
from chronoq.core.errors import ConfigurationError
from chronoq.manage.base import Opened, SyncFacade
from chronoq.redis.alerts import AlertState, AlertStore


class Alerts(Opened):
    """Alert rules, channels and silences stored in Redis, and the rules' states.

    Rules and channels added here apply on every evaluator from its next round and
    replace the app's declared ones (and the defaults) of the same name."""

    def __init__(
        self,
        client: Client,
        timezone: str,
        declared_rules: dict[str, AlertRule] | None = None,
        declared_channels: dict[str, Channel] | None = None,
    ) -> None:
        super().__init__(client, timezone)
        self.declared_rules = dict(declared_rules or {})
        self.declared_channels = dict(declared_channels or {})

    @property
    def store(self) -> AlertStore:
        return self.client.backend.alerts

    async def add_rule(self, rule: AlertRule) -> AlertRule:
        await self.store.put_rule(rule)
        return rule

    async def remove_rule(self, name: str) -> bool:
        """Forget a runtime rule (the declared one or default of that name returns)."""
        return await self.store.remove_rule(name)

    async def rules(self) -> builtins.list[AlertRule]:
        """Every rule in force: defaults, then declared, then runtime ones."""
        return merge_rules(DEFAULT_RULES, self.declared_rules, await self.store.rules())

    async def add_channel(self, channel: Channel) -> Channel:
        await self.store.put_channel(channel)
        return channel

    async def remove_channel(self, name: str) -> bool:
        return await self.store.remove_channel(name)

    async def channels(self) -> dict[str, Channel]:
        return {**self.declared_channels, **await self.store.channels()}

    async def silence(
        self, rule: str, duration: float, reason: str, *, subject: str = ""
    ) -> Silence:
        """No notification for `rule` (or one `subject` of it) for `duration` seconds."""
        if duration <= 0:
            raise ConfigurationError("a silence needs a duration > 0 seconds")
        if not reason.strip():
            raise ConfigurationError("a silence needs a reason")
        if rule not in {r.name for r in await self.rules()}:
            raise ConfigurationError(f"no alert rule named {rule!r}")
        silence = Silence(rule, time.time() + duration, reason, subject)
        await self.store.silence(silence)
        return silence

    async def unsilence(self, rule: str, *, subject: str = "") -> bool:
        return await self.store.unsilence(rule, subject)

    async def silences(self) -> builtins.list[Silence]:
        return await self.store.silences()

    async def states(self) -> builtins.list[AlertState]:
        """Pending, firing and resolved alerts, per rule and subject."""
        return await self.store.states()

    async def deliveries(self, limit: int = 50) -> builtins.list[dict[str, Any]]:
        """The newest delivery attempts (webhooks and emails), newest first."""
        return await self.store.deliveries(limit)


class SyncAlerts(SyncFacade[Alerts]):
    """`with app.alerts() as alerts:` the same operations, blocking."""

    def add_rule(self, rule: AlertRule) -> AlertRule:
        return self._run(self._async.add_rule(rule))

    def remove_rule(self, name: str) -> bool:
        return self._run(self._async.remove_rule(name))

    def rules(self) -> builtins.list[AlertRule]:
        return self._run(self._async.rules())

    def add_channel(self, channel: Channel) -> Channel:
        return self._run(self._async.add_channel(channel))

    def remove_channel(self, name: str) -> bool:
        return self._run(self._async.remove_channel(name))

    def channels(self) -> dict[str, Channel]:
        return self._run(self._async.channels())

    def silence(self, rule: str, duration: float, reason: str, *, subject: str = "") -> Silence:
        return self._run(self._async.silence(rule, duration, reason, subject=subject))

    def unsilence(self, rule: str, *, subject: str = "") -> bool:
        return self._run(self._async.unsilence(rule, subject=subject))

    def silences(self) -> builtins.list[Silence]:
        return self._run(self._async.silences())

    def states(self) -> builtins.list[AlertState]:
        return self._run(self._async.states())

    def deliveries(self, limit: int = 50) -> builtins.list[dict[str, Any]]:
        return self._run(self._async.deliveries(limit))
