"""A Lua error names the file and line that raised it, not the line of the joined
library + script source the server ran."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from chronoq import Client
from chronoq.client import JobRequest
from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import LIB, SCRIPTS, locate_error

SCRIPTS_DIR = Path(__file__).resolve().parents[2] / "src" / "chronoq" / "redis" / "scripts"


def line_of(script: str, text: str) -> int:
    """The 1-based line of `script`.lua holding `text` (exactly one such line)."""
    lines = (SCRIPTS_DIR / f"{script}.lua").read_text().split("\n")
    found = [n for n, line in enumerate(lines, 1) if text in line]
    assert len(found) == 1, (script, text, found)
    return found[0]


async def test_a_runtime_error_in_a_script_names_its_file_and_line(client: Client) -> None:
    q = client.broker.keys.queue("default")
    with pytest.raises(redis.ResponseError) as caught:
        # A lease length that is no number: `now + tonumber(ARGV[1])` adds nil.
        await SCRIPTS.renew(client.broker.redis, [q.active, q.job_prefix], ["soon", 0])
    message = str(caught.value)
    line = line_of("renew", "now + tonumber(ARGV[1])")
    assert message.startswith(f"renew.lua:{line}: attempt to perform arithmetic on a nil value")
    assert f"@renew.lua:{line}" in message
    assert "user_script" not in message


async def test_an_error_in_the_library_names_the_library_line_and_the_script(
    client: Client, raw: redis.Redis
) -> None:
    q = client.broker.keys.queue("default")
    raw.set(q.wake, "not a list")  # the doorbell rung for a delayed job is no LIST
    with pytest.raises(redis.ResponseError) as caught:
        await client.submit(JobRequest("t", delay=60, force=True))
    message = str(caught.value)
    line = line_of("_lib", "if redis.call('LLEN', wake_key) == 0 then")
    assert message.startswith("WRONGTYPE Operation against a key holding the wrong kind")
    assert f"@_lib.lua:{line}" in message
    assert message.endswith("(running enqueue.lua)")


def test_a_blocking_call_names_the_line_too(redis_url: str, prefix: str) -> None:
    holder = Keyspace(prefix).lock("report").holder
    conn = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        conn.set(holder, "tok")
        with pytest.raises(redis.ResponseError) as caught:
            SCRIPTS.lock_renew.call_sync(conn, [holder], ["tok", "soon"])  # lease ms: no number
    finally:
        conn.close()
    line = line_of("lock_renew", "redis.call('PEXPIRE', KEYS[1], ARGV[2])")
    assert f"@lock_renew.lua:{line}" in str(caught.value)


def test_locate_error_rewrites_every_place_and_leaves_other_messages_alone() -> None:
    at = LIB.starts["claim"] + 6  # the library's numbering: claim.lua's 7th line
    message = f"user_function:{at}: boom script: {LIB.function('claim')}, on @user_function:{at}."
    assert locate_error(message, "claim") == "claim.lua:7: boom on @claim.lua:7."
    # Line 1 of the library is its '#!lua' line: _lib.lua's line 5 is its line 6.
    assert locate_error("user_function:6: boom", "claim") == "_lib.lua:5: boom (running claim.lua)"
    assert locate_error("WRONGTYPE no place given", "claim") == "WRONGTYPE no place given"
