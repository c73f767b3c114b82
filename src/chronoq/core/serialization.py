"""JSON in and out. Never pickle: payloads are data any language can read."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chronoq.core.errors import SerializationError

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: Any, *, what: str = "value") -> str:
    """Encode to compact JSON, naming `what` when the value is not JSON."""
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"{what} is not JSON-serializable: {exc}") from None


def loads(text: str | bytes) -> Any:
    return json.loads(text)


def encode_call(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """One JSON document holding a call's positional and keyword arguments."""
    if not args and not kwargs:
        return "[[]]"
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise SerializationError("kwargs must be a mapping with string keys")
    if isinstance(args, str | bytes) or not isinstance(args, Sequence):
        raise SerializationError(f"args must be a list or tuple, got {type(args).__name__}")
    if kwargs:
        return dumps([list(args), dict(kwargs)], what="job arguments")
    return dumps([list(args)], what="job arguments")


def decode_call(text: str | bytes) -> tuple[list[Any], dict[str, Any]]:
    """Inverse of encode_call; raises ValueError on a malformed payload."""
    value = loads(text)
    if not isinstance(value, list) or not 1 <= len(value) <= 2 or not isinstance(value[0], list):
        raise ValueError("payload is not [args] or [args, kwargs]")
    kwargs = value[1] if len(value) == 2 else {}
    if not isinstance(kwargs, dict):
        raise ValueError("payload kwargs is not an object")
    return value[0], kwargs
