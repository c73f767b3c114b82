"""The worker's decoders of what claim.lua returns and a hand-off pushes: every value
lands in the ClaimedJob field of its name (they build it positionally, for speed)."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from chronoq.core.claims import ClaimedJob
from chronoq.redis.job_wire import ENTRY_SIZE, claimed_jobs, decode_entry

# One run entry (run_entry in _lib.lua), every value distinct.
ENTRY = ["id1", "task1", "[[1]]", 2, 5, '{"timeout": 3}', '{"api": 7}', "1000", "2000",
         3000, "sched1", "4000", "acct1", 9, 1]  # fmt: skip
EXPECTED = ClaimedJob(
    id="id1",
    queue="q1",
    task="task1",
    payload="[[1]]",
    attempts=2,
    max_retries=5,
    options='{"timeout": 3}',
    token="tok1",
    reservations='{"api": 7}',
    enqueued_ms=1000,
    run_at_ms=2000,
    started_ms=3000,
    schedule="sched1",
    schedule_due_ms=4000,
    account="acct1",
    fence=9,
    retry_base=1,
)


def named(job: ClaimedJob) -> dict[str, Any]:
    """Field name -> value (a ClaimedJob compares by identity)."""
    return {f.name: getattr(job, f.name) for f in fields(job)}


def test_a_claim_replys_entry_fills_the_field_of_each_name() -> None:
    assert len(ENTRY) == ENTRY_SIZE
    header = ["1764000000000", -1, 0, []]
    jobs = claimed_jobs("q1", "tok1", [*header, *ENTRY, *ENTRY])
    assert [named(job) for job in jobs] == [named(EXPECTED)] * 2


def test_a_hand_offs_entry_fills_the_field_of_each_name() -> None:
    values = json.loads(json.dumps([*ENTRY, "tok1"]))  # as the inbox holds it
    assert named(decode_entry("q1", "tok1", values, 0)) == named(EXPECTED)
    texts = [str(v) if isinstance(v, int) else v for v in values]  # numbers as text
    assert named(decode_entry("q1", "tok1", texts, 0)) == named(EXPECTED)
