"""Backoff: exponential from a base, capped, with jitter that never exceeds the delay."""

from __future__ import annotations

import random

import pytest

from chronoq.core.errors import ConfigurationError
from chronoq.core.retry import Backoff


def test_grows_exponentially_then_caps() -> None:
    backoff = Backoff(base=1.0, factor=2.0, maximum=10.0, jitter=0)
    assert [backoff.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_equal_jitter_stays_within_half_and_whole_delay() -> None:
    backoff = Backoff(base=4.0, factor=1.0, maximum=4.0, jitter=0.5)
    rng = random.Random(7)
    draws = [backoff.delay(3, rng) for _ in range(1000)]
    assert min(draws) >= 2.0 and max(draws) <= 4.0
    assert max(draws) - min(draws) > 1.5  # it really spreads


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": -1}, "base and maximum must be >= 0"),
        ({"factor": 0.5}, "factor must be >= 1"),
        ({"jitter": 1.5}, "jitter must be within 0..1"),
    ],
)
def test_rejects_nonsense(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Backoff(**kwargs)


def test_wire_round_trip() -> None:
    backoff = Backoff(base=0.5, factor=3, maximum=60, jitter=0.1)
    assert Backoff.from_wire(backoff.to_wire()) == backoff
