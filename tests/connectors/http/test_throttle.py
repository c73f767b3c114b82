"""Retry-After in both of its forms (RFC 9110 §10.2.3)."""

from __future__ import annotations

from datetime import UTC, datetime

from chronoq.connectors.http import parse_retry_after

NOW = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)


def test_delay_seconds() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(" 0 ", NOW) == 0.0


def test_http_date_in_the_future_and_the_past() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", NOW) == 0.0


def test_absent_or_unreadable() -> None:
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("", NOW) is None
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("-5", NOW) is None
