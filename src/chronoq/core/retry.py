"""Retry policy: exponential backoff with a cap and jitter."""

import random
from dataclasses import dataclass

from chronoq.core.errors import ConfigurationError


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
        if self.base < 0 or self.maximum < 0:
            raise ConfigurationError("backoff base and maximum must be >= 0")
        if self.factor < 1:
            raise ConfigurationError(f"backoff factor must be >= 1, got {self.factor}")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"backoff jitter must be within 0..1, got {self.jitter}")

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the given retry (1 for the first retry)."""
        raw = min(self.maximum, self.base * self.factor ** max(0, retry_number - 1))
        spread = raw * self.jitter
        draw = (rng or random).random()
        return raw - spread + spread * draw

    def to_wire(self) -> list[float]:
        return [self.base, self.factor, self.maximum, self.jitter]

    @classmethod
    def from_wire(cls, value: list[float]) -> "Backoff":
        return cls(*value)
