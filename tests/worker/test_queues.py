"""Queue order: strict ("a,b") or weighted ("a=3,b=1")."""

from __future__ import annotations

from collections import Counter

import pytest

from chronoq.core.errors import ConfigurationError
from chronoq.worker.queues import QueueOrder


def test_strict_order_is_kept() -> None:
    order = QueueOrder.parse("high,default,low")
    assert order.queues == ["high", "default", "low"]
    assert order.round() == ["high", "default", "low"]


def test_weights_decide_who_goes_first_proportionally() -> None:
    order = QueueOrder.parse("a=3,b=1")
    firsts = Counter(order.round()[0] for _ in range(4000))
    assert 0.68 < firsts["a"] / 4000 < 0.82


@pytest.mark.parametrize("spec", ["", ",", "a=0", "a=x", "a,a", "a=2,b"])
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(ConfigurationError):
        QueueOrder.parse(spec)
