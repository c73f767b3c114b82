"""What a "slow down" reply means for the job: Retry-After in both of its forms
(RFC 9110 §10.2.3: delay-seconds or an HTTP-date), turned into chronoq's RetryAfter
(the attempt ends, the next starts no earlier than the platform asked) or, when the
caller prefers not to spend an attempt, RateLimited."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from chronoq import RateLimited, RetryAfter

THROTTLE_STATUSES = frozenset({429, 503})
DEFAULT_WAIT = 60.0  # a 429/503 without a usable Retry-After
MAX_WAIT = 366 * 86400.0  # chronoq's longest retry delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait, from `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015
    07:28:00 GMT`; None when absent or unreadable. A date in the past is 0. Fractions
    of a second round up, so a retry never comes before the date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_WAIT)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, float(math.ceil(seconds))), MAX_WAIT)


def throttle_wait(response: httpx.Response, now: datetime | None = None) -> float | None:
    """The wait a 429 or 503 asks for (its Retry-After, else DEFAULT_WAIT); None for
    any other status."""
    if response.status_code not in THROTTLE_STATUSES:
        return None
    wait = parse_retry_after(response.headers.get("Retry-After"), now)
    return DEFAULT_WAIT if wait is None else wait


def throttled(seconds: float, what: str, *, spend_attempt: bool = True) -> Exception:
    """The exception that reschedules the job `seconds` from now."""
    message = f"{what}: throttled, retry after {seconds:g} s"
    if spend_attempt:
        return RetryAfter(seconds, message)
    return RateLimited(seconds, message)
