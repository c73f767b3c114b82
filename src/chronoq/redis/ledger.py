"""Ledger entries in Redis: one hash per entry, changed by ledger_advance.lua.

The script is a compare-and-set: it applies a change only from the states the
caller allows and, to advance, only for the entry's owner, so two runs of one
effect (a stalled worker and its replacement) cannot both move it.
"""

from __future__ import annotations

import json
from typing import Any

from chronoq.core.ledger import LedgerEntry
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import LedgerKeys
from chronoq.redis.scripts import SCRIPTS

NO_ENTRY = ""  # in the allowed states: the entry does not exist yet


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(key: str, fields: list[Any]) -> LedgerEntry | None:
    state, owner, data, updated, history = (_text(f) for f in fields)
    if not state:
        return None
    return LedgerEntry.from_stored(
        key,
        state,
        owner,
        data=json.loads(data) if data else {},
        updated_ms=int(updated or 0),
        history=json.loads(history or "[]"),
    )


async def advance(
    client: AsyncRedis,
    keys: LedgerKeys,
    *,
    claim: bool,
    owner: str,
    state: str,
    data: dict[str, Any] | None,
    ttl_ms: int,
    allowed: list[str],
    keep: int,
) -> tuple[bool, LedgerEntry | None]:
    """(applied, the entry now). `allowed`: states the change may start from
    (NO_ENTRY for none yet); empty: any."""
    reply = await SCRIPTS.ledger_advance(
        client,
        [keys.entry],
        [
            "claim" if claim else "advance",
            owner,
            state,
            json.dumps(data, separators=(",", ":")) if data is not None else "",
            ttl_ms,
            json.dumps(allowed),
            keep,
        ],
    )
    return bool(int(reply[0])), _entry(keys.key, list(reply[1:]))


async def get(client: AsyncRedis, keys: LedgerKeys) -> LedgerEntry | None:
    fields = await client.hmget(keys.entry, ["state", "owner", "data", "updated", "history"])
    return _entry(keys.key, [f if f is not None else "" for f in fields])


async def delete(client: AsyncRedis, keys: LedgerKeys) -> bool:
    return bool(await client.delete(keys.entry))
