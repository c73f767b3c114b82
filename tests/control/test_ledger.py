"""app.ledger: a compare-and-set per entry, owned by one run at a time."""

from __future__ import annotations

import pytest

from chronoq import App, ConfigurationError, LedgerConflict


async def test_claim_advance_and_read_back(app: App) -> None:
    ledger = app.ledger("mail")
    assert await ledger.get("c1:a@x") is None
    await ledger.claim("c1:a@x", "connected", owner="run-1", data={"n": 1})
    entry = await ledger.advance("c1:a@x", "sent", owner="run-1")
    assert (entry.state, entry.owner, entry.data) == ("sent", "run-1", {"n": 1})
    assert [s for s, _ in entry.history] == ["connected", "sent"]
    assert entry.reached("connected") and not entry.reached("uncertain")
    assert await ledger.get("c1:a@x") == entry


async def test_a_second_owner_cannot_advance_and_a_claim_needs_an_allowed_state(
    app: App,
) -> None:
    ledger = app.ledger("mail")
    await ledger.claim("k", "connected", owner="run-1")
    with pytest.raises(LedgerConflict) as refused:
        await ledger.advance("k", "sent", owner="run-2")
    assert refused.value.entry is not None and refused.value.entry.owner == "run-1"
    with pytest.raises(LedgerConflict):
        await ledger.claim("k", "connected", owner="run-2")  # only from no entry
    taken = await ledger.claim("k", "connected", owner="run-2", from_states=["connected"])
    assert taken.owner == "run-2"
    with pytest.raises(LedgerConflict):  # the replaced run records nothing more
        await ledger.advance("k", "dot", owner="run-1")
    assert (await ledger.get("k")).state == "connected"  # type: ignore[union-attr]
    assert await ledger.delete("k") and await ledger.get("k") is None


async def test_entries_expire_and_bad_names_are_refused(app: App, raw: object) -> None:
    ledger = app.ledger("mail", ttl=60)
    await ledger.claim("k", "s", owner="o")
    ttl = raw.pttl(f"{app.settings.prefix}:{{ledger:mail:k}}")  # type: ignore[attr-defined]
    assert 0 < ttl <= 60_000
    with pytest.raises(ConfigurationError, match="ledger key"):
        await ledger.get("a{b}")
    with pytest.raises(ConfigurationError, match="ledger state"):
        await ledger.claim("k2", "", owner="o")
    with pytest.raises(ConfigurationError, match="ttl"):
        app.ledger("mail", ttl=0)
