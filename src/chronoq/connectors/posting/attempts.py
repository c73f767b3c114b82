"""Every publish attempt of a post, with every call it made: the HTTP status and
the platform's error code and log id (what TikTok support asks for), kept as a
chronoq record per post (`client.records("posting-attempts")`), read back with
`poster.attempts(post_id)`.

The list is rewritten after each call, so an attempt killed mid-upload still shows
the calls it made; the next attempt marks it `interrupted`. One run per post at a
time (the task's lock and the post's ledger owner), so no two writers race.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chronoq import Records
from chronoq.connectors.posting.api import Reply

NAMESPACE = "posting-attempts"
KEEP_ATTEMPTS = 50
KEEP_CALLS = 200  # per attempt; the first ones and the last ones are what matter
ATTEMPTS_TTL = 400 * 86400.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Call:
    endpoint: str
    status: int  # HTTP status; 0: no answer (the connection failed)
    code: str  # the platform's error code, "ok" on success
    log_id: str
    at: str
    detail: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Call:
        return cls(
            str(data["endpoint"]),
            int(data["status"]),
            str(data["code"]),
            str(data.get("log_id", "")),
            str(data["at"]),
            str(data.get("detail", "")),
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One run's try at publishing: `outcome` is running, published, inbox,
    deferred (429 or still processing: no attempt spent), retry (5xx or a lost
    connection: the task's backoff), failed (permanent) or interrupted (the run
    died: a SIGKILL, a lost lease)."""

    number: int
    job: str
    job_attempt: int
    started: str
    ended: str | None
    outcome: str
    reason: str
    calls: list[Call] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        return cls(
            int(data["number"]),
            str(data["job"]),
            int(data["job_attempt"]),
            str(data["started"]),
            data.get("ended"),
            str(data["outcome"]),
            str(data.get("reason", "")),
            [Call.from_dict(c) for c in data.get("calls", [])],
        )

    @property
    def statuses(self) -> list[int]:
        return [c.status for c in self.calls]

    @property
    def codes(self) -> list[str]:
        return [c.code for c in self.calls]


class AttemptLog:
    """The attempts of one post, as one run records them."""

    def __init__(self, records: Records, post_id: str, job: str, job_attempt: int) -> None:
        self.records = records
        self.post_id = post_id
        self.job = job
        self.job_attempt = job_attempt
        self._all: list[dict[str, Any]] = []
        self._mine: dict[str, Any] = {}

    async def begin(self) -> None:
        stored = await self.records.get(self.post_id)
        self._all = list(stored or [])
        for earlier in self._all:
            if earlier.get("outcome") == "running":
                earlier.update(
                    outcome="interrupted",
                    ended=None,
                    reason="the run ended without recording an outcome",
                )
        self._mine = {
            "number": len(self._all) + 1,
            "job": self.job,
            "job_attempt": self.job_attempt,
            "started": _now(),
            "ended": None,
            "outcome": "running",
            "reason": "",
            "calls": [],
        }
        self._all.append(self._mine)
        self._all = self._all[-KEEP_ATTEMPTS:]
        await self._save()

    async def call(self, reply: Reply, detail: str = "") -> None:
        calls: list[dict[str, Any]] = self._mine["calls"]
        calls.append(
            {
                "endpoint": reply.endpoint,
                "status": reply.status,
                "code": reply.code,
                "log_id": reply.log_id,
                "at": _now(),
                "detail": detail,
            }
        )
        if len(calls) > KEEP_CALLS:
            del calls[KEEP_CALLS // 2]
        await self._save()

    async def end(self, outcome: str, reason: str = "") -> None:
        self._mine.update(outcome=outcome, reason=reason[:1000], ended=_now())
        await self._save()

    async def _save(self) -> None:
        await self.records.put(self.post_id, self._all, ttl=ATTEMPTS_TTL)


async def read_attempts(records: Records, post_id: str) -> list[Attempt]:
    return [Attempt.from_dict(a) for a in (await records.get(post_id) or [])]
