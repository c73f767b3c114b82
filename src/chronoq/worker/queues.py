"""Which queue to serve first: strict order, or weighted random order."""

from __future__ import annotations

import random
from collections.abc import Sequence

from chronoq.core.errors import ConfigurationError
from chronoq.core.names import validate_queue_name


class QueueOrder:
    """Strict: always the listed order. Weighted: each round draws an order at random,
    a queue's chance of coming first proportional to its weight (so low-weight queues
    are never starved)."""

    def __init__(self, queues: Sequence[str], weights: Sequence[int] | None = None) -> None:
        if not queues:
            raise ConfigurationError("a worker needs at least one queue")
        self.queues = [validate_queue_name(q) for q in queues]
        if len(set(self.queues)) != len(self.queues):
            raise ConfigurationError(f"a queue is listed twice: {','.join(self.queues)}")
        if weights is not None and (len(weights) != len(queues) or any(w <= 0 for w in weights)):
            raise ConfigurationError("give one positive weight per queue")
        self.weights = list(weights) if weights else None
        self._rng = random.Random()

    @classmethod
    def parse(cls, spec: str) -> QueueOrder:
        """`a,b,c` (strict) or `a=3,b=1` (weighted)."""
        names, weights = [], []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            name, _, weight = part.partition("=")
            names.append(name.strip())
            if weight:
                if not weight.strip().isdigit():
                    raise ConfigurationError(f"queue weight must be a whole number: {part!r}")
                weights.append(int(weight))
        if weights and len(weights) != len(names):
            raise ConfigurationError(f"give a weight to every queue or to none: {spec!r}")
        return cls(names, weights or None)

    def round(self) -> list[str]:
        if self.weights is None or len(self.queues) == 1:
            return self.queues
        pool = list(zip(self.queues, self.weights, strict=True))
        order = []
        while pool:
            pick = self._rng.choices(range(len(pool)), weights=[w for _, w in pool])[0]
            order.append(pool.pop(pick)[0])
        return order
