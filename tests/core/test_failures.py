"""Failure fingerprints (masking what varies) and classes (built in, user rules)."""

from __future__ import annotations

import json

import pytest

from chronoq import App
from chronoq.core.errors import (
    ConfigurationError,
    JobTimeout,
    PayloadTooLarge,
    RateLimited,
    RetryAfter,
    SoftTimeLimit,
)
from chronoq.core.failures import ErrorClass, ErrorClassifier, failure, mask


def test_masking_numbers_hex_ids_uuids_and_emails() -> None:
    assert mask("timeout after 31 s talking to 10.0.0.7:6379") == (
        "timeout after <n> s talking to <n>:<n>"
    )
    assert mask("job 01a21eaaac23af741ce6824409 failed") == "job <id> failed"
    assert mask("pointer 0xDEADbeef") == "pointer <hex>"
    assert mask("order 6f1c2b9e-3d4a-4b5c-8d7e-0123456789ab gone") == "order <uuid> gone"
    assert mask("no inbox for ann.lee+x@mail.example.com") == "no inbox for <email>"
    assert mask("sha deadbeefcafe1234 differs") == "sha <id> differs"
    assert mask("plain words stay") == "plain words stay"


def test_one_group_for_messages_differing_only_in_what_is_masked() -> None:
    c = ErrorClassifier()
    one = failure("t", ConnectionError, "ConnectionError: refused by 10.0.0.1 after 3 tries", c)
    two = failure("t", ConnectionError, "ConnectionError: refused by 10.0.0.9 after 5 tries", c)
    assert one == two and len(one.fingerprint) == 16
    assert one.title == "ConnectionError: refused by <n> after <n> tries"
    assert failure("u", ConnectionError, "ConnectionError: refused by 1", c) != one  # task
    assert failure("t", OSError, "ConnectionError: refused by 1", c).fingerprint != one.fingerprint
    assert one.wire.split("\t") == [one.fingerprint, "network", one.title]


@pytest.mark.parametrize(
    ("exc_type", "cls"),
    [
        (ConnectionError, "network"),
        (ConnectionRefusedError, "network"),
        (OSError, "network"),
        (TimeoutError, "timeout"),
        (JobTimeout, "timeout"),
        (SoftTimeLimit, "timeout"),
        (RateLimited, "rate_limited"),
        (RetryAfter, "rate_limited"),
        (ValueError, "parse"),
        (json.JSONDecodeError, "parse"),
        (KeyError, "parse"),
        (MemoryError, "resource"),
        (PayloadTooLarge, "resource"),
        (RuntimeError, "application"),
        (ZeroDivisionError, "application"),
    ],
)
def test_built_in_classes_by_exception_type(exc_type: type[BaseException], cls: str) -> None:
    assert ErrorClassifier().classify(exc_type) == ErrorClass(cls)


class PlatformDown(RuntimeError): ...


class FlakyParse(ValueError): ...


def test_user_rules_registered_on_the_app_win() -> None:
    app = App()
    app.error_class(PlatformDown, "network")
    app.error_class(FlakyParse, "rate limited")
    app.error_class(KeyError, ErrorClass.APPLICATION)
    classify = app.error_classes.classify
    assert classify(PlatformDown) is ErrorClass.NETWORK
    assert classify(FlakyParse) is ErrorClass.RATE_LIMITED  # subclass rule beats ValueError
    assert classify(KeyError) is ErrorClass.APPLICATION  # a user rule beats the built-in
    assert classify(ValueError) is ErrorClass.PARSE
    with pytest.raises(ConfigurationError, match="unknown error class 'flaky'"):
        app.error_class(PlatformDown, "flaky")
    with pytest.raises(ConfigurationError, match="needs an exception type"):
        app.error_class("PlatformDown", "network")  # type: ignore[arg-type]
    app.error_classes.set_recoverable(["network", "parse"])
    assert app.error_classes.recoverable == {ErrorClass.NETWORK, ErrorClass.PARSE}
