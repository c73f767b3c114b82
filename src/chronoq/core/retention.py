"""How long finished jobs are kept, per final state: by age and by count.

Written as `CHRONOQ_RETENTION_BY_STATE`, e.g. `succeeded=24h/100000,failed=7d,dead=30d`:
each entry is `STATE=AGE`, `STATE=AGE/COUNT` or `STATE=/COUNT`; a job is forgotten
once it is older than AGE or beyond the newest COUNT of its state, whichever comes
first. AGE is a number with a unit s, m, h or d (or plain seconds); COUNT a whole
number (`100_000` and `100,000` read too). States: succeeded, cancelled, expired,
skipped, dead, and `failed`, which names cancelled, expired and skipped at once
(entries naming one of them win). A finished state without an age keeps
`CHRONOQ_RETENTION` (the default for finished jobs); dead jobs without an entry are
kept until requeued or purged, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chronoq.core.errors import ConfigurationError
from chronoq.core.job import JobStatus

FINISHED_STATES = (
    JobStatus.SUCCEEDED,
    JobStatus.CANCELLED,
    JobStatus.EXPIRED,
    JobStatus.SKIPPED,
)
TRIMMED_STATES = (*FINISHED_STATES, JobStatus.DEAD)
FAILED_GROUP = "failed"
_GROUP = (JobStatus.CANCELLED, JobStatus.EXPIRED, JobStatus.SKIPPED)
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)", re.IGNORECASE)
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class Keep:
    """What one state keeps: jobs younger than `age` seconds (None: any age) and at
    most the newest `count` (None: any number)."""

    age: float | None = None
    count: int | None = None

    @property
    def age_ms(self) -> int:
        """0 when unbounded (what the trim script reads as 'no age limit')."""
        return 0 if self.age is None else max(1, int(self.age * 1000))


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Each trimmed state's `Keep`; see the module docstring for the text form."""

    states: tuple[tuple[JobStatus, Keep], ...]

    def keep(self, status: JobStatus) -> Keep:
        for state, keep in self.states:
            if state is status:
                return keep
        return Keep()

    def age_ms(self, status: JobStatus) -> int:
        return self.keep(status).age_ms

    def record_ttl_ms(self, *statuses: JobStatus) -> int:
        """The TTL to give a record finishing in any of `statuses`: the longest of their
        ages (the trimmer forgets each state's jobs at its own age)."""
        return max(self.age_ms(status) for status in statuses)

    @classmethod
    def parse(cls, text: str, *, default_age: float) -> RetentionPolicy:
        """The policy `text` states, finished states defaulting to `default_age` seconds.
        Raises ConfigurationError naming the bad entry."""
        named: dict[JobStatus, Keep] = {}
        grouped: Keep | None = None
        for raw in re.split(r"[;\s]+|,(?!\d{3}(?:\D|$))", text.strip()):
            if not raw:
                continue
            state, sep, value = raw.partition("=")
            if not sep:
                raise ConfigurationError(f"retention entry {raw!r} is not STATE=AGE[/COUNT]")
            keep = _parse_keep(raw, value)
            state = state.strip().lower()
            if state == FAILED_GROUP:
                grouped = keep
                continue
            try:
                status = JobStatus(state)
            except ValueError:
                status = None
            if status not in TRIMMED_STATES:
                names = ", ".join([*(s.value for s in TRIMMED_STATES), FAILED_GROUP])
                raise ConfigurationError(
                    f"retention entry {raw!r}: unknown state {state!r}; choose one of: {names}"
                )
            assert status is not None
            named[status] = keep
        states = []
        for status in TRIMMED_STATES:
            keep = named.get(status) or (grouped if status in _GROUP else None) or Keep()
            if keep.age is None and status is not JobStatus.DEAD:
                keep = Keep(default_age, keep.count)
            states.append((status, keep))
        return cls(tuple(states))


def _parse_keep(raw: str, value: str) -> Keep:
    age_text, _, count_text = value.partition("/")
    age: float | None = None
    if age_text.strip():
        match = _AGE.fullmatch(age_text.strip())
        if match is None or float(match.group(1)) <= 0:
            raise ConfigurationError(
                f"retention entry {raw!r}: age {age_text!r} is not a positive duration "
                "such as 90s, 15m, 24h or 7d"
            )
        age = float(match.group(1)) * _UNIT[match.group(2).lower()]
    count: int | None = None
    if count_text.strip():
        digits = count_text.strip().replace("_", "").replace(",", "")
        if not digits.isdigit() or int(digits) < 1:
            raise ConfigurationError(
                f"retention entry {raw!r}: count {count_text!r} is not a whole number >= 1"
            )
        count = int(digits)
    if age is None and count is None:
        raise ConfigurationError(f"retention entry {raw!r} gives neither an age nor a count")
    return Keep(age, count)
