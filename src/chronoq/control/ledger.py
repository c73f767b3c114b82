"""`app.ledger(name)`: keyed records of how far a side effect got, for retries.

```
ledger = app.ledger("invoices")
entry = await ledger.claim(key, "started", owner=run_id, from_states=[None, "started"])
...                                   # the effect's steps, each recorded first:
await ledger.advance(key, "sent", owner=run_id)
```

`claim` takes an entry for an owner (a run) from the states allowed (None: no
entry yet); `advance` moves it only while that owner still holds it, so a stalled
run that was replaced cannot record over its replacement. Each change is one round
trip (a compare-and-set script on one key). Entries expire `ttl` seconds after
their last change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chronoq.core.errors import ConfigurationError, LedgerConflict
from chronoq.core.ledger import (
    DEFAULT_LEDGER_TTL,
    HISTORY_KEEP,
    LedgerEntry,
    validate_entry_key,
    validate_state,
)
from chronoq.redis import ledger as store
from chronoq.redis.keys import Keyspace, LedgerKeys
from chronoq.redis.locks import LoopLockClients


class Ledger:
    """One named ledger of an app (`app.ledger(name)`): entries by key."""

    def __init__(
        self, clients: LoopLockClients, keys: Keyspace, name: str, ttl: float = DEFAULT_LEDGER_TTL
    ) -> None:
        if not ttl > 0:
            raise ConfigurationError(f"ledger ttl must be > 0 seconds, got {ttl}")
        validate_entry_key(name, "-")
        self.name = name
        self.ttl = ttl
        self._clients = clients
        self._keys = keys

    def _entry_keys(self, key: str) -> LedgerKeys:
        validate_entry_key(self.name, key)
        return self._keys.ledger(self.name, key)

    async def get(self, key: str) -> LedgerEntry | None:
        """The entry for `key`, or None."""
        clients = await self._clients.get()
        return await store.get(clients.commands, self._entry_keys(key))

    async def claim(
        self,
        key: str,
        state: str,
        *,
        owner: str,
        from_states: Iterable[str | None] = (None,),
        data: dict[str, Any] | None = None,
    ) -> LedgerEntry:
        """Take the entry for `owner`, setting `state`, if it is in one of
        `from_states` (None: no entry yet); else LedgerConflict (nothing written)."""
        return await self._change(key, state, owner, from_states, data, claim=True)

    async def advance(
        self,
        key: str,
        state: str,
        *,
        owner: str,
        from_states: Iterable[str | None] = (),
        data: dict[str, Any] | None = None,
    ) -> LedgerEntry:
        """Move the entry `owner` holds to `state` (keeping its data unless `data` is
        given); LedgerConflict if another owner holds it, or it is not in one of
        `from_states` (empty: any)."""
        return await self._change(key, state, owner, from_states, data, claim=False)

    async def delete(self, key: str) -> bool:
        """Forget the entry (an operator's "resend it after all"); True if it existed."""
        clients = await self._clients.get()
        return await store.delete(clients.commands, self._entry_keys(key))

    async def _change(
        self,
        key: str,
        state: str,
        owner: str,
        from_states: Iterable[str | None],
        data: dict[str, Any] | None,
        *,
        claim: bool,
    ) -> LedgerEntry:
        validate_state(state)
        if not owner:
            raise ConfigurationError("a ledger owner token must be a non-empty string")
        allowed = [store.NO_ENTRY if s is None else validate_state(s) for s in from_states]
        clients = await self._clients.get()
        applied, entry = await store.advance(
            clients.commands,
            self._entry_keys(key),
            claim=claim,
            owner=owner,
            state=state,
            data=data,
            ttl_ms=max(1, int(self.ttl * 1000)),
            allowed=allowed,
            keep=HISTORY_KEEP,
        )
        if not applied:
            held = "no entry" if entry is None else f"{entry.state!r} held by {entry.owner!r}"
            raise LedgerConflict(key, f"refused {state!r} for {owner!r}: {held}", entry)
        assert entry is not None  # applied: the script wrote it
        return entry
