"""JSON in and out. Never pickle: payloads are data any language can read.

Job arguments and results nest at most `MAX_DEPTH` levels. Python's JSON parser
recurses once per level: a document nested about 1,000 deep raises RecursionError
wherever it is read (a worker, the CLI). So the client refuses deeper arguments at
enqueue, and decoding refuses a deeper document, written by some other client,
before parsing it.
"""

import json
import re
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any

from chronoq.core.errors import PayloadTooLarge, SerializationError

MAX_DEPTH = 100
"""Deepest nesting of arrays and objects allowed in job arguments and results."""

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class NestingTooDeep(SerializationError, ValueError):
    """JSON nests deeper than `MAX_DEPTH` levels. A SerializationError when encoding,
    and a ValueError (as any malformed payload) when decoding."""


def dumps(value: Any, *, what: str = "value", max_depth: int | None = None) -> str:
    """Encode to compact JSON, naming `what` when the value is not JSON, or nests
    deeper than `max_depth` levels (when given)."""
    try:
        text = _encoder.encode(value)
    except RecursionError:
        raise NestingTooDeep(f"{what} nested too deep to encode as JSON") from None
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"{what} is not JSON-serializable: {exc}") from None
    if max_depth is not None:
        _check_depth(text, what, max_depth)
    return text


def loads(text: str | bytes, *, what: str = "JSON", max_depth: int | None = None) -> Any:
    """Decode JSON. A document nested deeper than `max_depth` (when given), or too deep
    for the parser, raises NestingTooDeep (a ValueError) naming `what`."""
    if max_depth is not None:
        as_text = text if isinstance(text, str) else text.decode(errors="replace")
        _check_depth(as_text, what, max_depth)
    try:
        return json.loads(text)
    except RecursionError:
        raise NestingTooDeep(f"{what} nested too deep to decode") from None


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON text, found without parsing it
    (brackets inside strings do not count)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(_STEP[c] for c in brackets), default=0)


def _check_depth(text: str, what: str, max_depth: int) -> None:
    if text.count("[") + text.count("{") <= max_depth:
        return  # cannot nest deeper than it has brackets (the common case: no scan)
    if nesting_depth(text) > max_depth:
        raise NestingTooDeep(f"{what} nested deeper than {max_depth} levels")


def check_size(text: str, what: str, limit: int) -> None:
    """Raise PayloadTooLarge when `text` encodes to more than `limit` UTF-8 bytes."""
    if len(text) <= limit // 4:
        return  # at most 4 bytes a character: small enough without encoding it
    size = len(text.encode())
    if size > limit:
        raise PayloadTooLarge(what, size, limit)


def encode_call(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """One JSON document holding a call's positional and keyword arguments."""
    if not args and not kwargs:
        return "[[]]"
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise SerializationError("kwargs must be a mapping with string keys")
    if isinstance(args, str | bytes) or not isinstance(args, Sequence):
        raise SerializationError(f"args must be a list or tuple, got {type(args).__name__}")
    call = [list(args), dict(kwargs)] if kwargs else [list(args)]
    return dumps(call, what="job arguments", max_depth=MAX_DEPTH)


def decode_call(text: str | bytes) -> tuple[list[Any], dict[str, Any]]:
    """Inverse of encode_call; raises ValueError on a malformed payload (NestingTooDeep
    for one nested deeper than MAX_DEPTH)."""
    if text == "[[]]":  # encode_call's no-argument call: no parse (new lists each time)
        return [], {}
    value = loads(text, what="job arguments", max_depth=MAX_DEPTH)
    if not isinstance(value, list) or not 1 <= len(value) <= 2 or not isinstance(value[0], list):
        raise ValueError("payload is not [args] or [args, kwargs]")
    kwargs = value[1] if len(value) == 2 else {}
    if not isinstance(kwargs, dict):
        raise ValueError("payload kwargs is not an object")
    return value[0], kwargs
