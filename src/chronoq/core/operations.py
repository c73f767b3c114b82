"""Bulk operations: one action (requeue, purge or resolve) over every dead job a
filter matched, run server-side in batches. Pure: `chronoq.redis.operations` stores
them and `chronoq.bulk` captures and runs them.

An operation's set of jobs is frozen when it is captured: only jobs dead when it was
created are in it (a job dying later is not swept in), and each is acted on at
most once (the per-queue batch script moves the ids and advances the cursor in one
step). What happened to each job is counted by outcome, so a job that is no longer
dead when its turn comes is skipped and said so, never acted on.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chronoq.core.errors import ConfigurationError
from chronoq.core.job import PRIORITY_RANGE

IDEMPOTENCY_KEY_MAX = 200
NOTE_MAX = 2000
ACTOR_MAX = 200


class OperationKind(enum.StrEnum):
    REQUEUE = "requeue"  # back to the ready queue, attempt history kept
    PURGE = "purge"  # deleted for good
    RESOLVE = "resolve"  # marked handled, with a note; stays dead

    @classmethod
    def parse(cls, text: str) -> OperationKind:
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(k.value for k in cls)
            raise ConfigurationError(f"unknown operation kind {text!r}: choose {choices}") from None


class OperationState(enum.StrEnum):
    PENDING = "pending"  # created; no runner has claimed it yet
    RUNNING = "running"  # claimed: capturing its set, or working through it
    DONE = "done"
    CANCELLED = "cancelled"  # what was done before the cancel stays done
    FAILED = "failed"  # stopped on an error (`error` says which)

    @property
    def is_final(self) -> bool:
        return self in (OperationState.DONE, OperationState.CANCELLED, OperationState.FAILED)


class Outcome(enum.StrEnum):
    """What happened to one job of the set (counted per outcome). A dry run counts
    what would have happened."""

    REQUEUED = "requeued"
    PURGED = "purged"
    RESOLVED = "resolved"
    NOT_DEAD = "not_dead"  # no longer dead when its turn came (requeued, purged, expired)
    INVALID = "invalid"  # a record the claim would dead-letter again: kept dead


@dataclass(frozen=True, slots=True)
class Edits:
    """Changes applied with the action: a new priority for requeued jobs, a note
    for resolved ones."""

    priority: int | None = None
    note: str = ""

    def check(self, kind: OperationKind) -> None:
        if self.priority is not None:
            if kind is not OperationKind.REQUEUE:
                raise ConfigurationError(f"edits.priority applies to requeue, not {kind.value}")
            if isinstance(self.priority, bool) or self.priority not in PRIORITY_RANGE:
                raise ConfigurationError(
                    f"edits.priority must be a whole number within -1000..1000, "
                    f"got {self.priority!r}"
                )
        if self.note:
            if kind is not OperationKind.RESOLVE:
                raise ConfigurationError(f"edits.note applies to resolve, not {kind.value}")
            if len(self.note) > NOTE_MAX:
                raise ConfigurationError(f"edits.note is longer than {NOTE_MAX} characters")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.priority is not None:
            out["priority"] = self.priority
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Edits:
        unknown = sorted(set(data) - {"priority", "note"})
        if unknown:
            raise ConfigurationError(f"unknown edit {unknown[0]!r}: edits are priority and note")
        note = data.get("note", "")
        if not isinstance(note, str):
            raise ConfigurationError(f"edits.note must be text, got {type(note).__name__}")
        return cls(priority=data.get("priority"), note=note)


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """What was asked: checked when made. `filter` is the search filter's JSON form
    (chronoq.observe.search.JobFilter.to_dict), `filter_text` its text as given."""

    kind: OperationKind
    filter: dict[str, Any]
    edits: Edits = field(default_factory=Edits)
    actor: str = ""
    dry_run: bool = False
    filter_text: str = ""

    def __post_init__(self) -> None:
        self.edits.check(self.kind)
        if len(self.actor) > ACTOR_MAX:
            raise ConfigurationError(f"actor is longer than {ACTOR_MAX} characters")

    def fingerprint(self) -> str:
        """What an idempotency key must be reused with: the same request, or a
        conflict (the actor aside: a retry by another token is the same request)."""
        data = [self.kind.value, self.filter, self.edits.to_dict(), self.dry_run]
        return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def check_idempotency_key(key: str | None) -> str:
    if key is None:
        return ""
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise ConfigurationError(
            f"idempotency key must be 1-{IDEMPOTENCY_KEY_MAX} printable characters, got {key!r}"
        )
    return key


@dataclass(frozen=True, slots=True)
class Operation:
    """An operation as read: what was asked, where it is, what it did so far."""

    id: str
    spec: OperationSpec
    state: OperationState
    created_ms: int
    updated_ms: int
    total: int | None = None  # jobs in its frozen set; None until captured
    processed: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # Outcome value -> jobs
    queues: list[str] = field(default_factory=list)
    error: str = ""
    idempotency_key: str = ""

    @property
    def kind(self) -> OperationKind:
        return self.spec.kind

    def to_dict(self) -> dict[str, Any]:
        spec = self.spec
        out: dict[str, Any] = {
            "id": self.id,
            "kind": spec.kind.value,
            "state": self.state.value,
            "dry_run": spec.dry_run,
            "filter": spec.filter,
            "edits": spec.edits.to_dict(),
            "actor": spec.actor,
            "progress": {
                "processed": self.processed,
                "total": self.total,
                "fraction": _fraction(self.processed, self.total, self.state),
            },
            "counts": {o.value: self.counts.get(o.value, 0) for o in Outcome},
            "queues": self.queues,
            "created": _iso(self.created_ms),
            "updated": _iso(self.updated_ms),
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
            "error": self.error or None,
            "idempotency_key": self.idempotency_key or None,
        }
        if spec.filter_text:
            out["filter_text"] = spec.filter_text
        return out


def _fraction(processed: int, total: int | None, state: OperationState) -> float | None:
    if total is None:
        return None
    if total == 0:
        return 1.0 if state is OperationState.DONE else 0.0
    return round(processed / total, 4)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
