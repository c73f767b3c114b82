"""Reading stored records for a response: a record another client wrote badly (a
result nested 1,000 deep, a field that does not parse) is a 409 naming it, never
a 500; chronoq's own errors (not found, bad filter) keep their status."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from chronoq.api.problems import ProblemError
from chronoq.core.errors import ChronoqError
from chronoq.core.serialization import NestingTooDeep

T = TypeVar("T")


async def readable(read: Awaitable[T], what: str) -> T:
    try:
        return await read
    except NestingTooDeep as exc:
        raise ProblemError(409, f"{what} cannot be shown: {exc}") from None
    except ChronoqError:
        raise
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise ProblemError(409, f"{what} cannot be shown: {type(exc).__name__}: {exc}") from None


def field_error(exc: ChronoqError, field: str, status: int = 422) -> ProblemError:
    """A library refusal of one input, as a problem naming that input."""
    return ProblemError(status, str(exc), field=field)
