"""The nesting limit on stored JSON: refused by name, never a RecursionError."""

from __future__ import annotations

import pytest

from chronoq.core import serialization
from chronoq.core.errors import SerializationError
from chronoq.core.serialization import MAX_DEPTH, NestingTooDeep


def brackets(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('[{"a": [1, 2]}, [3]]', 3),
        ('["[[[[[", "]]]]"]', 1),  # brackets inside strings do not count
        ('["a\\"[[[["]', 1),  # nor after an escaped quote
        (brackets(5000), 5000),
    ],
)
def test_nesting_depth_is_found_without_parsing(text: str, depth: int) -> None:
    assert serialization.nesting_depth(text) == depth


def test_decoding_refuses_deep_arguments_with_a_value_error() -> None:
    for depth in (MAX_DEPTH + 1, 1000, 100_000):
        with pytest.raises(ValueError, match=f"nested deeper than {MAX_DEPTH} levels"):
            serialization.decode_call(f"[{brackets(depth)}]")
    args, _ = serialization.decode_call(f"[{brackets(MAX_DEPTH - 1)}]")  # at the limit
    assert serialization.nesting_depth(serialization.dumps(args)) == MAX_DEPTH - 1


def test_loads_without_a_limit_turns_a_recursion_error_into_a_value_error() -> None:
    with pytest.raises(NestingTooDeep, match="result nested too deep to decode"):
        serialization.loads(brackets(100_000), what="result")
    assert serialization.loads(brackets(MAX_DEPTH + 10)) is not None  # no limit asked for


def test_encoding_refuses_deep_values_as_a_serialization_error() -> None:
    value: list[object] = []
    for _ in range(MAX_DEPTH):
        value = [value]
    with pytest.raises(SerializationError, match="job arguments nested deeper than"):
        serialization.encode_call([value], {})
    for _ in range(5000):
        value = [value]
    with pytest.raises(SerializationError, match="task result nested too deep to encode"):
        serialization.dumps(value, what="task result", max_depth=MAX_DEPTH)
    assert serialization.dumps({"a": [1, {"b": "[[["}]}, max_depth=3) == '{"a":[1,{"b":"[[["}]}'
