"""IANA time zones by name, refused with a message naming the bad one."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chronoq.core.errors import ConfigurationError


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a ConfigurationError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"unknown time zone {name!r}; use an IANA name like 'Europe/Paris'"
        ) from None
