"""One schema for Python and Lua: every job field and status the scripts write or
read is one `chronoq.core.job` declares (`Field`, `JobStatus`), so a renamed field
or a new status cannot drift between the two sides unnoticed."""

from __future__ import annotations

import re
from importlib import resources

from chronoq.core.job import Field, JobStatus

SCRIPTS = resources.files("chronoq.redis") / "scripts"
FIELDS = {value for name, value in vars(Field).items() if name.isupper()}
STATUSES = {status.value for status in JobStatus}

# A command on a job hash: 'HSET', job_key, ... up to the end of the call.
JOB_COMMAND = re.compile(r"'(HSET|HSETNX|HINCRBY|HGET|HMGET|HDEL|HEXISTS)', job_key,([^)]*)\)")
FIELD_TABLE = re.compile(r"local [A-Z_]*FIELDS = \{([^}]*)\}")
FIELD_CHECKS = re.compile(r"local FIELD_CHECKS = \{([^}]*)\}", re.S)
STATUS_WRITE = re.compile(r"'HSET', [^,]+, 'status', '([a-z]+)'")
LITERAL = re.compile(r"'([a-z_]+)'")


def sources() -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8") for p in SCRIPTS.iterdir() if p.name.endswith(".lua")
    }


def fields_named(text: str) -> set[str]:
    """The field names one script uses on job hashes."""
    found: set[str] = set()
    for command, rest in JOB_COMMAND.findall(text):
        tokens = [t.strip() for t in rest.split(",")]
        if command in ("HSET", "HSETNX", "HINCRBY"):
            tokens = tokens[0::2]  # field, value, field, value, ...
        found |= {m.group(1) for t in tokens if (m := re.fullmatch(LITERAL, t))}
    for table in FIELD_TABLE.findall(text):
        found |= set(LITERAL.findall(table))
    for table in FIELD_CHECKS.findall(text):
        found |= set(re.findall(r"([a-z_]+) =", table))
    return found


def test_every_job_field_the_scripts_use_is_declared_in_python() -> None:
    used = {name: fields_named(text) for name, text in sources().items()}
    undeclared = {name: sorted(f - FIELDS) for name, f in used.items() if f - FIELDS}
    assert not undeclared, f"fields used in Lua but not in chronoq.core.job.Field: {undeclared}"
    # The parse itself must see the common fields, or it proves nothing.
    everything = set().union(*used.values())
    assert {"status", "att", "lease", "gate", "prio", "err"} <= everything


def test_every_status_the_scripts_write_is_a_job_status() -> None:
    written = {name: set(STATUS_WRITE.findall(text)) for name, text in sources().items()}
    unknown = {name: sorted(s - STATUSES) for name, s in written.items() if s - STATUSES}
    assert not unknown, f"statuses written in Lua but not in JobStatus: {unknown}"
    everything = set().union(*written.values())
    assert everything >= {"queued", "running", "dead", "retrying", "scheduled", "blocked"}


def test_the_checks_catch_a_field_python_does_not_know() -> None:
    drifted = "redis.call('HSET', job_key, 'status', 'queud', 'atempt', 1)"  # typos on purpose
    assert fields_named(drifted) - FIELDS == {"atempt"}
    assert set(STATUS_WRITE.findall(drifted)) - STATUSES == {"queud"}
