"""Retry policy: exponential backoff with a cap and jitter, or a list of delays."""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from chronoq.core.errors import MAX_RETRY_DELAY, ConfigurationError

MAX_FACTOR = 100.0
"""Largest backoff factor: beyond it the second retry already waits the maximum."""
MAX_DELAYS = 100
"""Longest list of retry delays."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry n (1-based) is base * factor**(n-1), capped, then jittered.

    Jitter is "equal jitter" by default (half fixed, half random): retries of jobs
    that failed together spread out, yet each waits at least half its delay.
    """

    base: float = 1.0
    factor: float = 2.0
    maximum: float = 300.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        for name in ("base", "factor", "maximum", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"backoff {name} must be a number, got {value!r}")
        if not (0 <= self.base <= MAX_RETRY_DELAY and 0 <= self.maximum <= MAX_RETRY_DELAY):
            raise ConfigurationError(
                f"backoff base and maximum must be >= 0 and at most {MAX_RETRY_DELAY:.0f} "
                f"seconds, got {self.base} and {self.maximum}"
            )
        if not 1 <= self.factor <= MAX_FACTOR:
            raise ConfigurationError(
                f"backoff factor must be >= 1 and at most {MAX_FACTOR:g}, got {self.factor}"
            )
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"backoff jitter must be within 0..1, got {self.jitter}")

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the given retry (1 for the first retry)."""
        raw = min(self.maximum, self._uncapped(retry_number))
        spread = raw * self.jitter
        draw = (rng or random).random()
        return raw - spread + spread * draw

    def _uncapped(self, retry_number: int) -> float:
        """base * factor**(n-1), without overflowing a float after many attempts."""
        exponent = max(0, retry_number - 1)
        if self.base == 0 or self.factor == 1:
            return self.base
        if exponent * math.log(self.factor) + math.log(self.base) > math.log(MAX_RETRY_DELAY):
            return MAX_RETRY_DELAY
        return float(self.base * self.factor**exponent)

    def to_wire(self) -> list[float]:
        return [self.base, self.factor, self.maximum, self.jitter]

    @classmethod
    def from_wire(cls, value: list[float]) -> "Backoff":
        return cls(*value)


def check_delays(delays: Sequence[float]) -> tuple[float, ...]:
    """Validate a list of retry delays ("5 min, then 15, then 30": [300, 900, 1800])."""
    if isinstance(delays, str | bytes) or not isinstance(delays, Sequence):
        raise ConfigurationError(f"retry_delays must be a list of seconds, got {delays!r}")
    if not 1 <= len(delays) <= MAX_DELAYS:
        raise ConfigurationError(
            f"retry_delays must hold 1 to {MAX_DELAYS} delays, got {len(delays)}"
        )
    for delay in delays:
        number = isinstance(delay, int | float) and not isinstance(delay, bool)
        if not number or not 0 <= delay <= MAX_RETRY_DELAY:
            raise ConfigurationError(
                f"retry_delays must be seconds within 0..{MAX_RETRY_DELAY:g}, got {delay!r}"
            )
    return tuple(float(delay) for delay in delays)


def listed_delay(delays: Sequence[float], retry_number: int) -> float:
    """The delay before retry n (1-based): the n-th of the list, its last once
    retries outnumber it. Exact: no jitter (the operator chose these times)."""
    return delays[min(max(retry_number, 1), len(delays)) - 1]
