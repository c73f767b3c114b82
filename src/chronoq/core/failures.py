"""What kind of failure an error is, and which failures are the same one.

Pure: the worker computes both from the exception it caught and hands them to the
outcome scripts, which record the job's class and group (fingerprint) and keep the
group's counts. A *group* is (task, exception type, message with its numbers, hex
ids, uuids and e-mail addresses masked): "Timeout after 31 s talking to 10.0.0.7"
and "Timeout after 2 s talking to 10.0.0.9" are one group. A *class* is one of six
coarse kinds (network, timeout, rate limited, parse, resource, application), by the
exception's type with user rules first, which decides what `process-dlq` requeues.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from chronoq.core.errors import (
    ConfigurationError,
    JobTimeout,
    PayloadTooLarge,
    RateLimited,
    RetryAfter,
    SoftTimeLimit,
)


class ErrorClass(enum.StrEnum):
    NETWORK = "network"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    PARSE = "parse"
    RESOURCE = "resource"
    APPLICATION = "application"

    @classmethod
    def parse(cls, text: str | ErrorClass) -> ErrorClass:
        """'rate limited', 'rate-limited' and 'rate_limited' are one class."""
        key = str(text).strip().lower().replace(" ", "_").replace("-", "_")
        try:
            return cls(key)
        except ValueError:
            names = ", ".join(c.value for c in cls)
            raise ConfigurationError(
                f"unknown error class {text!r}; choose one of: {names}"
            ) from None


RECOVERABLE = frozenset({ErrorClass.NETWORK, ErrorClass.TIMEOUT, ErrorClass.RATE_LIMITED})
"""Classes `process-dlq` requeues unless told otherwise: the outside world's faults."""

# Checked along the exception's MRO, most derived first: TimeoutError is an OSError
# (timeout, not network), JSONDecodeError a ValueError (parse either way).
BUILT_IN: dict[type[BaseException], ErrorClass] = {
    TimeoutError: ErrorClass.TIMEOUT,
    JobTimeout: ErrorClass.TIMEOUT,
    SoftTimeLimit: ErrorClass.TIMEOUT,
    ConnectionError: ErrorClass.NETWORK,
    OSError: ErrorClass.NETWORK,
    RateLimited: ErrorClass.RATE_LIMITED,
    RetryAfter: ErrorClass.RATE_LIMITED,
    json.JSONDecodeError: ErrorClass.PARSE,
    UnicodeError: ErrorClass.PARSE,
    ValueError: ErrorClass.PARSE,
    KeyError: ErrorClass.PARSE,
    MemoryError: ErrorClass.RESOURCE,
    PayloadTooLarge: ErrorClass.RESOURCE,
}


class ErrorClassifier:
    """The built-in mapping plus user rules (`app.error_class(MyError, "network")`).
    Along the exception's MRO the first type with a rule decides; at one type a user
    rule beats the built-in one."""

    def __init__(self) -> None:
        self.rules: dict[type[BaseException], ErrorClass] = {}
        self.recoverable: frozenset[ErrorClass] = RECOVERABLE

    def register(self, exc_type: type[BaseException], cls: ErrorClass | str) -> None:
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            raise ConfigurationError(f"error_class needs an exception type, got {exc_type!r}")
        self.rules[exc_type] = ErrorClass.parse(cls)

    def set_recoverable(self, classes: Iterable[ErrorClass | str]) -> None:
        self.recoverable = frozenset(ErrorClass.parse(c) for c in classes)

    def classify(self, exc_type: type[BaseException]) -> ErrorClass:
        for klass in exc_type.__mro__:
            found = self.rules.get(klass) or BUILT_IN.get(klass)
            if found is not None:
                return found
        return ErrorClass.APPLICATION


_MASKS = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    # An id: 8+ hex or base32-ish characters with at least one digit (job ids, hashes).
    (re.compile(r"\b(?=[0-9a-zA-Z]*\d)[0-9a-fA-F]{8,}\b|\b(?=[0-9a-z]*\d)[0-9a-z]{20,}\b"), "<id>"),
    (re.compile(r"\d+(?:\.\d+)*"), "<n>"),
)  # fmt: skip
TITLE_MAX = 200


def mask(message: str) -> str:
    """The message with what varies between occurrences of one failure masked:
    e-mail addresses, uuids, hex literals and ids, then every number."""
    for pattern, token in _MASKS:
        message = pattern.sub(token, message)
    return message


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed attempt's group and class, as the outcome scripts take them."""

    fingerprint: str  # 16 hex digits
    error_class: ErrorClass
    title: str  # the masked first line of the error

    @property
    def wire(self) -> str:
        """One script argument: fingerprint, class and title, tab-separated."""
        return f"{self.fingerprint}\t{self.error_class.value}\t{self.title}"


def failure(
    task: str, exc_type: type[BaseException], error: str, classifier: ErrorClassifier
) -> Failure:
    """Group and class of one failed attempt of `task` (its error text as stored)."""
    first = (error.strip().splitlines() or [""])[0]
    title = mask(first).replace("\t", " ")[:TITLE_MAX]
    kind = f"{exc_type.__module__}.{exc_type.__qualname__}"
    digest = hashlib.sha1(f"{task}\0{kind}\0{title}".encode()).hexdigest()[:16]
    return Failure(digest, classifier.classify(exc_type), title)


FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
