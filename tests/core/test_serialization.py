"""Arguments are JSON, checked when the job is made, never pickled."""

from __future__ import annotations

import datetime as dt

import pytest

from chronoq.core.errors import SerializationError
from chronoq.core.serialization import decode_call, encode_call


def test_round_trip() -> None:
    text = encode_call((1, "é", [2.5, None]), {"flag": True})
    assert decode_call(text) == ([1, "é", [2.5, None]], {"flag": True})
    assert decode_call(encode_call((), {})) == ([], {})


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((dt.datetime(2030, 1, 1),), {}, "job arguments is not JSON-serializable"),
        ((object(),), {}, "not JSON-serializable"),
        ((float("nan"),), {}, "not JSON-serializable"),
        ((), {"when": {1, 2}}, "not JSON-serializable"),
        ("abc", {}, "args must be a list or tuple"),
        ((), {1: "x"}, "string keys"),
    ],
)
def test_unserializable_values_fail_with_a_clear_error(
    args: object, kwargs: dict[object, object], message: str
) -> None:
    with pytest.raises(SerializationError, match=message):
        encode_call(args, kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", ["not json", "{}", "[1]", "[[1], 2]", "[[], {}, 3]"])
def test_malformed_payloads_are_refused(payload: str) -> None:
    with pytest.raises(ValueError):
        decode_call(payload)
