"""A ledger entry: the last state one keyed side effect reached, and who moved it.

A ledger is for effects a retry must not repeat blindly (an email, a payment
request, a post): the caller records each step *before* the point of no return,
so that the next attempt reads how far the last one got and decides to redo the
effect, skip it, or hand it to an operator. Pure: `chronoq.control.ledger` owns
the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chronoq.core.errors import ConfigurationError
from chronoq.core.names import validate_lock_name

STATE_MAX = 64  # characters of a state name
HISTORY_KEEP = 32  # state changes kept per entry, oldest dropped
DEFAULT_LEDGER_TTL = 30 * 86400.0  # an entry lives 30 days after its last change


def validate_state(state: str) -> str:
    """A state is a short word: it is compared, listed and shown to operators."""
    if not isinstance(state, str) or not state or len(state) > STATE_MAX:
        raise ConfigurationError(f"invalid ledger state {state!r}: 1-{STATE_MAX} characters")
    return state


def validate_entry_key(ledger: str, key: str) -> tuple[str, str]:
    """Ledger name and entry key become one hash tag: no braces, bounded length."""
    validate_lock_name(ledger, what="ledger name")
    validate_lock_name(key, what="ledger key")
    return ledger, key


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One entry: its `state`, the `owner` token that set it, the caller's `data`
    (JSON), when it last changed (server clock, UTC) and its recent `history` of
    (state, when) pairs, oldest first."""

    key: str
    state: str
    owner: str
    data: dict[str, Any] = field(default_factory=dict)
    updated: datetime | None = None
    history: tuple[tuple[str, datetime], ...] = ()

    @classmethod
    def from_stored(
        cls, key: str, state: str, owner: str, *, data: Any, updated_ms: int, history: Any
    ) -> LedgerEntry:
        """From the decoded fields of the stored hash (see redis/ledger.py)."""
        pairs = tuple((str(s), _when(int(ms))) for s, ms in history)
        return cls(key, state, owner, dict(data or {}), _when(updated_ms), pairs)

    def reached(self, state: str) -> bool:
        """True when the entry was ever in `state` (within the kept history)."""
        return self.state == state or any(s == state for s, _ in self.history)
