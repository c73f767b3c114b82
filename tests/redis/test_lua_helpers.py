"""Helpers of _lib.lua that hand-tuned code relies on, called through a library of
their own (the shared helpers, then one test function), loaded for the test only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from chronoq.redis.scripts import _read


@pytest.fixture
def helpers(raw: redis.Redis, prefix: str) -> Iterator[str]:
    """A library of its own for this test: the prefix of its functions' names."""
    name = "cqtest_" + "".join(c for c in prefix if c.isalnum()).lower()
    code = "\n".join(
        [
            f"#!lua name={name}",
            _read("_lib"),
            f"redis.register_function('{name}_ms_text', function(KEYS, ARGV)",
            "  return ms_text(ARGV[1], ARGV[2])",
            "end)",
            f"redis.register_function('{name}_int_text', function(KEYS, ARGV)",
            "  return tostring(int_text(tonumber(ARGV[1])))",
            "end)",
            f"redis.register_function('{name}_holds_lease', function(KEYS, ARGV)",
            "  return holds_lease(ARGV[1], ARGV[2]) and 1 or 0",
            "end)",
            f"redis.register_function('{name}_event_now', function(KEYS, ARGV)",
            "  event_now(KEYS[1], ARGV[1], 'job1', 'queued')",
            "  return redis.call('XLEN', KEYS[1])",
            "end)",
        ]
    )
    raw.function_load(code)
    try:
        yield name
    finally:
        raw.function_delete(name)


@pytest.mark.parametrize(
    ("micros", "text"),
    [("0", "1764000000000"), ("5", "1764000000000"), ("999", "1764000000000"),
     ("1000", "1764000000001"), ("99999", "1764000000099"), ("123456", "1764000000123"),
     ("999999", "1764000000999")],
)  # fmt: skip
def test_ms_text_is_whole_milliseconds_of_times_replies(
    raw: redis.Redis, helpers: str, micros: str, text: str
) -> None:
    assert raw.fcall(f"{helpers}_ms_text", 0, "1764000000", micros) == text


def test_ms_text_agrees_with_the_servers_clock(raw: redis.Redis, helpers: str) -> None:
    seconds, micros = raw.time()
    made = int(raw.fcall(f"{helpers}_ms_text", 0, str(seconds), str(micros)))
    assert made == seconds * 1000 + micros // 1000


@pytest.mark.parametrize(
    ("cap", "written"),
    [("10000", 1), ("1", 1), ("0", 0), ("", 0), ("-5", 0), ("1e4", 0), ("12.5", 0),
     ("x", 0), ("1" * 16, 0)],
)  # fmt: skip
def test_event_now_writes_only_under_a_whole_positive_cap(
    raw: redis.Redis, helpers: str, prefix: str, cap: str, written: int
) -> None:
    stream = f"{prefix}:{{q}}:events"
    assert raw.fcall(f"{helpers}_event_now", 1, stream, cap) == written


@pytest.mark.parametrize(
    ("number", "text"),
    [("0", "0"), ("1", "1"), ("7", "7"), ("1024", "1024"), ("1025", "1025"), ("-1", "-1"),
     ("1764000000123", "1764000000123"), ("4398046511104000", "4398046511104000"),
     ("1.5", "1.5")],
)  # fmt: skip
def test_int_text_prints_whole_numbers_exactly_and_leaves_others(
    raw: redis.Redis, helpers: str, number: str, text: str
) -> None:
    assert raw.fcall(f"{helpers}_int_text", 0, number) == text


@pytest.mark.parametrize(
    ("lease", "token", "held"),
    [("tok-1", "tok-1", 1), ("tok-1", "tok-2", 0), ("", "", 0), ("", "tok-1", 0)],
)
def test_an_emptied_lease_is_held_by_no_one(
    raw: redis.Redis, helpers: str, lease: str, token: str, held: int
) -> None:
    """A finished record keeps its 'lease' field, emptied: not even an empty token
    (a bad call) may record an outcome for it."""
    assert raw.fcall(f"{helpers}_holds_lease", 0, lease, token) == held
