"""The job filter grammar shared by the CLI (`chronoq jobs --filter`), the HTTP
API (`GET /v1/jobs?filter=`) and the dashboard (its shareable URLs).

```
task:send_email status:dead -account:acme since:2h error:"connection reset"
```

A filter is terms separated by spaces, all of which must hold. A term is
`key:value`; a value with spaces is double-quoted (`\\"` inside). A leading `-`
negates it. Keys: `task`, `status`, `queue`, `account`, `error` (text the error
contains, case ignored), `group` (a failure group's fingerprint), `since`, `until`
(`2h`, `30m` ago, or ISO 8601 with an offset). A bare word is error text. Each
key is given once, except negations, which may repeat (`-task:a -task:b`);
`since`, `until` and `group` cannot be negated. `format_filter` writes the
canonical text of a `JobFilter` back, so a filter survives a round trip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chronoq.core.errors import ConfigurationError
from chronoq.core.job import JobStatus
from chronoq.observe.search import JobFilter, parse_moment

KEYS = ("task", "status", "queue", "account", "error", "group", "since", "until")
_NEGATABLE = frozenset({"task", "status", "queue", "account", "error"})
_TERM = re.compile(r'\s*(-?)(?:([a-z_]+):)?("(?:[^"\\]|\\.)*"|[^\s"]*)(?=\s|$)\s*')
_PLURAL = {"task": "not_tasks", "status": "not_statuses", "queue": "not_queues",
           "account": "not_accounts", "error": "not_error_contains"}  # fmt: skip
_FIELD = {"task": "task", "status": "status", "queue": "queue", "account": "account",
          "error": "error_contains", "group": "error_group", "since": "since",
          "until": "until"}  # fmt: skip


class FilterError(ConfigurationError):
    """A filter that does not parse; the message names the term and the reason."""


@dataclass(frozen=True, slots=True)
class Term:
    key: str
    value: str
    negated: bool


def terms(text: str) -> Iterator[Term]:
    """The terms of a filter, in order; a bare word is an `error` term."""
    position = 0
    text = text.strip()
    while position < len(text):
        found = _TERM.match(text, position)
        if found is None or found.end() == position:
            raise FilterError(f"filter: cannot read {text[position:]!r} (unclosed quote?)")
        negated, key, raw = found.group(1) == "-", found.group(2), found.group(3)
        if key is not None and key not in KEYS:
            raise FilterError(f"filter: unknown key {key!r} in {found.group(0).strip()!r}; "
                              f"keys: {', '.join(KEYS)}")  # fmt: skip
        yield Term(key or "error", _unquote(raw), negated)
        position = found.end()


def parse_filter(text: str, *, now: float | None = None, **given: Any) -> JobFilter:
    """A `JobFilter` from the grammar's text; `given` adds fields set elsewhere (a
    CLI flag, a query parameter), and a field set both ways is an error."""
    fields: dict[str, Any] = dict(given)
    negations: dict[str, list[Any]] = {}
    for term in terms(text):
        if term.negated:
            if term.key not in _NEGATABLE:
                raise FilterError(f"filter: {term.key} cannot be negated (-{term.key}:...)")
            negations.setdefault(_PLURAL[term.key], []).append(_value(term, now))
            continue
        name = _FIELD[term.key]
        if fields.get(name) is not None:
            raise FilterError(f"filter: {term.key} is given twice; a filter takes one {term.key}")
        fields[name] = _value(term, now)
    for name, values in negations.items():
        fields[name] = tuple(dict.fromkeys([*fields.get(name, ()), *values]))
    try:
        return JobFilter(**fields)
    except ConfigurationError as exc:
        raise FilterError(f"filter: {exc}") from None


def format_filter(where: JobFilter) -> str:
    """The canonical text of a filter (times as ISO 8601 in UTC)."""
    parts: list[str] = []
    for key in KEYS:
        value = getattr(where, _FIELD[key])
        if value is not None:
            parts.append(f"{key}:{_quote(_text(value))}")
    for key in KEYS:
        if key in _PLURAL:
            parts += [f"-{key}:{_quote(_text(v))}" for v in getattr(where, _PLURAL[key])]
    return " ".join(parts)


def _value(term: Term, now: float | None) -> Any:
    if not term.value:
        raise FilterError(f"filter: {term.key} has an empty value")
    if term.key == "status":
        try:
            return JobStatus(term.value.lower())
        except ValueError:
            names = ", ".join(s.value for s in JobStatus)
            raise FilterError(f"filter: unknown status {term.value!r}; one of {names}") from None
    if term.key in ("since", "until"):
        try:
            return parse_moment(term.value, term.key, now=now)
        except ConfigurationError as exc:
            raise FilterError(f"filter: {exc}") from None
    return term.value


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def _quote(value: str) -> str:
    if value and not re.search(r'[\s"\\]', value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, JobStatus):
        return value.value
    return str(value)
