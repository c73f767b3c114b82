"""Poison records: job hashes with one bad field, written with a raw client into the
keys the scripts read, and the index check every case ends with."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from chronoq.redis.keys import QueueKeys

DEEP = 1000
DEEP_JSON = "[" * DEEP + "]" * DEEP  # what cjson (and Python's parser) refuse to nest
INDEXES = ("ready", "scheduled", "active", "dead", "done", "blocked")
FINISHED = ("cancelled", "expired", "skipped")  # each has an index of its own


@dataclass(frozen=True)
class Poison:
    """Set `field` to `value` (None: delete the field); the job must end dead with an
    error containing `reason`."""

    name: str
    field: str
    value: str | None
    reason: str

    def apply(self, raw: redis.Redis, q: QueueKeys, job_id: str) -> None:
        if self.value is None:
            raw.hdel(q.job(job_id), self.field)
        else:
            raw.hset(q.job(job_id), self.field, self.value)


# Fields the claim reads: each ends the job dead in claim.lua itself.
CLAIM_POISONS = [
    Poison("gate-not-json", "gate", "{not json", "field 'gate' is not JSON ('{not json')"),
    Poison("gate-too-deep", "gate", f"[{DEEP_JSON}]", "field 'gate' is not JSON"),
    Poison("gate-1000-deep", "gate", DEEP_JSON, "field 'gate' is not a list"),
    Poison("gate-object", "gate", '{"k": 1}', "field 'gate' is not a list of [key, limit, policy]"),
    Poison("gate-string", "gate", '"k"', "field 'gate' is not a list of [key, limit, policy]"),
    Poison("gate-zero-limit", "gate", '[["k", 0, "wait"]]', "field 'gate' is not a list"),
    Poison("gate-bad-policy", "gate", '[["k", 1, "maybe"]]', "field 'gate' is not a list"),
    Poison("att-text", "att", "x", "bad job record: field 'att' is not a number ('x')"),
    Poison("att-nan", "att", "nan", "field 'att' is not a number ('nan')"),
    Poison("att-fraction", "att", "1.5", "field 'att' is not a whole number ('1.5')"),
    Poison("att-huge", "att", "9" * 16, "field 'att' is out of range ('9999999999999999')"),
    Poison("dl-text", "dl", "soon", "field 'dl' is not a number ('soon')"),
    Poison("dl-hex", "dl", "0x10", "field 'dl' is not a whole number ('0x10')"),
    Poison("maxr-text", "maxr", "many", "field 'maxr' is not a number ('many')"),
    Poison("maxr-exponent", "maxr", "1e3", "field 'maxr' is not a whole number ('1e3')"),
    Poison("lres-not-json", "lres", "{bad", "field 'lres' is not JSON"),
    Poison("lres-list", "lres", "[1, 2]", "field 'lres' is not an object of numbers"),
    Poison("task-missing", "task", None, "bad job record: field 'task' is missing"),
    Poison("args-missing", "args", None, "bad job record: field 'args' is missing"),
]

# Fields only the worker decodes: the claim hands them over, the worker ends them dead.
WORKER_POISONS = [
    Poison("args-not-json", "args", "{not json", "field 'args' holds an undecodable payload"),
    Poison("args-too-deep", "args", f"[{DEEP_JSON}]", "arguments nested deeper than 100 levels"),
    Poison("opts-not-json", "opts", "{bad", "field 'opts' is not valid options JSON"),
    Poison("opts-list", "opts", "[1]", "field 'opts' is not valid options JSON"),
    Poison("opts-timeout-text", "opts", '{"timeout": "x"}', "field 'opts' is not valid"),
    Poison("opts-backoff-text", "opts", '{"backoff": "x"}', "field 'opts' is not valid"),
    Poison("opts-too-deep", "opts", DEEP_JSON, "field 'opts' is not valid options JSON"),
]


def indexes_of(raw: redis.Redis, q: QueueKeys, job_id: str) -> list[str]:
    """The queue indexes holding `job_id` (a live job is in exactly one)."""
    found = [name for name in INDEXES if raw.zscore(getattr(q, name), job_id) is not None]
    found += [f"done:{s}" for s in FINISHED if raw.zscore(q.finished(s), job_id) is not None]
    return found


def assert_dead(raw: redis.Redis, q: QueueKeys, job_id: str, reason: str) -> None:
    record = raw.hgetall(q.job(job_id))
    assert record.get("status") == "dead", record
    assert reason in record.get("err", ""), record.get("err")
    assert indexes_of(raw, q, job_id) == ["dead"]
