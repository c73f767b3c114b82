"""Name rules for queues, locks and limits: checked where names enter, in one place.

Queue, lock and limit names end up inside Redis keys and hash tags, so each rule
keeps a key well formed (no braces that would move the hash tag) and bounded.
"""

from __future__ import annotations

import re

from chronoq.core.errors import ConfigurationError

_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def _simple_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(
            f"invalid {what} {name!r}: use 1-64 letters, digits, '_', '.', ':' or '-'"
        )
    return name


def validate_queue_name(name: str) -> str:
    return _simple_name(name, "queue name")


def validate_limit_name(name: str) -> str:
    return _simple_name(name, "limit name")


ACCOUNT_NAME_MAX = 200


def validate_account_name(name: str) -> str:
    """A campaign's sending account (e.g. 'sales@acme.example') becomes a hash tag
    (`{cmpa:ACCOUNT}`): no braces, no whitespace, bounded."""
    if not isinstance(name, str) or not name or len(name) > ACCOUNT_NAME_MAX:
        raise ConfigurationError(f"invalid account {name!r}: 1-{ACCOUNT_NAME_MAX} characters")
    if "{" in name or "}" in name or any(c.isspace() for c in name):
        raise ConfigurationError(
            f"invalid account {name!r}: no braces or whitespace (the name is a hash tag)"
        )
    return name


LOCK_NAME_MAX = 512


def validate_lock_name(name: str, *, what: str = "lock name") -> str:
    """A lock name becomes a hash tag (`{lock:NAME}`): braces would change the tag."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"invalid {what} {name!r}: must be a non-empty string")
    if "{" in name or "}" in name:
        raise ConfigurationError(
            f"invalid {what} {name!r}: '{{' and '}}' are not allowed (the name is a hash tag)"
        )
    if len(name) > LOCK_NAME_MAX:
        raise ConfigurationError(
            f"invalid {what} {name[:40]!r}...: {len(name)} characters, at most {LOCK_NAME_MAX}"
        )
    return name


_CAMPAIGN = re.compile(r"^[0-9a-z][0-9a-z_-]{0,47}$")


def validate_campaign_name(name: str) -> str:
    """A campaign's name is its id: it names its hash tag (`{cmp:NAME}`), its
    schedule (`campaign.NAME`) and its runs' workflows (`cmp-NAME-<run>`), whose
    ids are lowercase, so the name is too."""
    if not isinstance(name, str) or not _CAMPAIGN.match(name):
        raise ConfigurationError(
            f"invalid campaign name {name!r}: use 1-48 of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit"
        )
    return name
