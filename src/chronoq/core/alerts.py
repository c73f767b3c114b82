"""Alert rules, channels and silences: the pure definitions (no I/O).

A rule watches one measure (`RuleKind`) per subject (a queue, a worker, the Redis
server, a schedule, a task, a limit, a lock family) against a threshold. The engine
(`chronoq.observe.alerts`) evaluates every rule in each worker and `chronoq
scheduler`; the state of each (rule, subject)
lives in Redis and changes only by compare-and-set (`alert_transition.lua`), so any
number of evaluators notify once per firing and once per resolution.

`DEFAULT_RULES` are on unless replaced or disabled (`enabled=False`) by a rule of
the same name; they have no channel to notify until one is declared, but firing
ones show in `chronoq health` and `chronoq alerts list`.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from chronoq.core.errors import ConfigurationError

MINUTE = 60.0
INTERVAL = 15.0  # seconds between evaluation rounds (a worker's, a scheduler's)


class RuleKind(enum.StrEnum):
    """What a rule measures, its subject, and what its threshold means."""

    SUCCESS_RATE = "success_rate"  # per queue: fraction of attempts that succeeded, under
    DEAD_GROWTH = "dead_growth"  # per queue: jobs dead-lettered within the window, over
    QUEUE_LENGTH = "queue_length"  # per queue: jobs waiting, over
    OLDEST_JOB_AGE = "oldest_job_age"  # per queue: seconds the next in line has waited, over
    NO_CONSUMERS = "no_consumers"  # per queue: waiting jobs and no live worker consuming it
    WORKER_MEMORY = "worker_memory"  # per worker: resident memory in MB, over
    REDIS_MEMORY = "redis_memory"  # the server: used memory / maxmemory, over
    REDIS_EVICTION = "redis_eviction"  # the server: a maxmemory-policy other than noeviction
    SCHEDULE_LATE = "schedule_late"  # per schedule: seconds its next due time is past, over
    LONG_RUN = "long_run"  # per task: a running job's time / the task's p95 run time, over
    RATE_LIMIT_UTILIZATION = "rate_limit_utilization"  # per rate limit: busiest key's use, over
    QUOTA_EXHAUSTION = "quota_exhaustion"  # per quota: the most used account's share, at least
    LOCK_LOST = "lock_lost"  # per lock family: locks lost within the window, over

    @property
    def per_queue(self) -> bool:
        return self in _PER_QUEUE

    @property
    def windowed(self) -> bool:
        """Measured over the last `window` seconds."""
        return self in (RuleKind.SUCCESS_RATE, RuleKind.DEAD_GROWTH, RuleKind.LOCK_LOST)

    @property
    def sampled(self) -> bool:
        """Measured from lifetime counters' growth, against samples the evaluators
        store: a queue's `dead` (the rollups do not count claim-time dead-lettering),
        the locks' `lost` (a window finer than the rollups' minutes)."""
        return self in (RuleKind.DEAD_GROWTH, RuleKind.LOCK_LOST)

    @property
    def below(self) -> bool:
        """Breached under the threshold (else over it)."""
        return self is RuleKind.SUCCESS_RATE


def parse_kind(kind: RuleKind | str, rule: str) -> RuleKind:
    try:
        return RuleKind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in RuleKind)
        raise ConfigurationError(
            f"alert rule {rule!r}: kind must be one of {kinds}, got {kind!r}"
        ) from None


_PER_QUEUE = {
    RuleKind.SUCCESS_RATE,
    RuleKind.DEAD_GROWTH,
    RuleKind.QUEUE_LENGTH,
    RuleKind.OLDEST_JOB_AGE,
    RuleKind.NO_CONSUMERS,
}
DEFAULT_THRESHOLDS: dict[RuleKind, float] = {
    RuleKind.SUCCESS_RATE: 0.80,
    RuleKind.DEAD_GROWTH: 10,
    RuleKind.QUEUE_LENGTH: 100,
    RuleKind.OLDEST_JOB_AGE: 600,
    RuleKind.NO_CONSUMERS: 0,
    RuleKind.WORKER_MEMORY: 500,
    RuleKind.REDIS_MEMORY: 0.80,
    RuleKind.REDIS_EVICTION: 0,
    RuleKind.SCHEDULE_LATE: 60,  # None on the rule: each schedule's own grace (default 60 s)
    RuleKind.LONG_RUN: 5,  # times the task's p95 run time over the last 24 h
    RuleKind.RATE_LIMIT_UTILIZATION: 0.90,
    RuleKind.QUOTA_EXHAUSTION: 0.90,
    RuleKind.LOCK_LOST: 0,  # any lock lost within the window
}
LEVELS = ("warning", "critical")


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One rule. `threshold` None: the kind's default (`DEFAULT_THRESHOLDS`).

    `pending`: seconds the condition must hold before the rule fires (a blip does
    not page); `cooldown`: after a notification, seconds before this rule and
    subject may notify a new firing (flapping); `window`: the span of the windowed
    kinds; `min_jobs`: attempts a success rate needs within the window to count;
    `min_run`: seconds a job must have run for `long_run` to judge it at all;
    `queues`: the queues a per-queue rule watches (empty: all); `channels`: the
    channels it notifies (empty: all)."""

    name: str
    kind: RuleKind
    threshold: float | None = None
    level: str = "warning"
    pending: float = MINUTE
    cooldown: float = 5 * MINUTE
    window: float = 15 * MINUTE
    min_jobs: int = 10
    min_run: float = MINUTE
    queues: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    enabled: bool = True

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "\t\n{}"):
            raise ConfigurationError(f"bad alert rule name {self.name!r}")
        object.__setattr__(self, "kind", parse_kind(self.kind, self.name))
        if self.level not in LEVELS:
            raise ConfigurationError(
                f"alert rule {self.name!r}: level must be warning or critical, got {self.level!r}"
            )
        for what in ("pending", "cooldown", "min_run"):
            if getattr(self, what) < 0:
                raise ConfigurationError(f"alert rule {self.name!r}: {what} must be >= 0")
        if self.window <= 0:
            raise ConfigurationError(f"alert rule {self.name!r}: window must be > 0")
        object.__setattr__(self, "queues", tuple(self.queues))
        object.__setattr__(self, "channels", tuple(self.channels))

    @property
    def limit(self) -> float:
        return DEFAULT_THRESHOLDS[self.kind] if self.threshold is None else self.threshold

    def watches(self, queue: str) -> bool:
        return not self.queues or queue in self.queues

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with the threshold in force (the kind's default if unset)."""
        data = asdict(self)
        data.update(kind=self.kind.value, queues=list(self.queues),
                    channels=list(self.channels), threshold=self.limit)  # fmt: skip
        return data

    @classmethod
    def from_json(cls, text: str) -> AlertRule:
        return cls(**_known(cls, json.loads(text)))


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}


DEFAULT_RULES: tuple[AlertRule, ...] = tuple(
    AlertRule(kind.value, kind, level=level)
    for kind, level in (
        (RuleKind.SUCCESS_RATE, "warning"),
        (RuleKind.DEAD_GROWTH, "warning"),
        (RuleKind.QUEUE_LENGTH, "warning"),
        (RuleKind.OLDEST_JOB_AGE, "warning"),
        (RuleKind.NO_CONSUMERS, "critical"),
        (RuleKind.WORKER_MEMORY, "warning"),
        (RuleKind.REDIS_MEMORY, "warning"),
        (RuleKind.REDIS_EVICTION, "critical"),
        (RuleKind.SCHEDULE_LATE, "warning"),
        (RuleKind.LONG_RUN, "warning"),
        (RuleKind.RATE_LIMIT_UTILIZATION, "warning"),
        (RuleKind.QUOTA_EXHAUSTION, "warning"),
        (RuleKind.LOCK_LOST, "warning"),
    )
)


def merge_rules(*layers: Mapping[str, AlertRule] | tuple[AlertRule, ...]) -> list[AlertRule]:
    """Rules by name, later layers replacing earlier ones (defaults, code, runtime)."""
    merged: dict[str, AlertRule] = {}
    for layer in layers:
        for rule in layer if isinstance(layer, tuple) else layer.values():
            merged[rule.name] = rule
    return sorted(merged.values(), key=lambda r: r.name)


@dataclass(frozen=True, slots=True)
class WebhookChannel:
    """POST the notification's JSON to `url`, signed with `secret` (see `signature`);
    retried `retries` times after a failure (a connection error, a timeout, a 429 or
    5xx), waiting `backoff` seconds, then twice as long each time."""

    name: str
    url: str
    secret: str
    timeout: float = 5.0
    retries: int = 3
    backoff: float = 1.0
    kind: str = "webhook"

    def __post_init__(self) -> None:
        _check_channel(self.name, self.retries, self.kind, "webhook")
        if not self.url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"webhook {self.name!r}: url must be http(s), got {self.url!r}"
            )
        if not self.secret:
            raise ConfigurationError(f"webhook {self.name!r} needs a secret to sign with")


@dataclass(frozen=True, slots=True)
class EmailChannel:
    """Send the notification by SMTP from `sender` to `to`."""

    name: str
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_tls: bool = False
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 1.0
    kind: str = "email"

    def __post_init__(self) -> None:
        _check_channel(self.name, self.retries, self.kind, "email")
        object.__setattr__(self, "to", (self.to,) if isinstance(self.to, str) else tuple(self.to))
        if not self.to:
            raise ConfigurationError(f"email channel {self.name!r} needs at least one recipient")


Channel = WebhookChannel | EmailChannel


def _check_channel(name: str, retries: int, kind: str, expected: str) -> None:
    if not name or any(c in name for c in "\t\n{}"):
        raise ConfigurationError(f"bad alert channel name {name!r}")
    if retries < 0:
        raise ConfigurationError(f"alert channel {name!r}: retries must be >= 0")
    if kind != expected:
        raise ConfigurationError(f"alert channel {name!r}: kind {kind!r} is not {expected!r}")


def channel_to_json(channel: Channel) -> str:
    return json.dumps(asdict(channel), sort_keys=True)


SECRET_FIELDS = ("secret", "password")
REDACTED = "***"


def channel_public(channel: Channel) -> dict[str, Any]:
    """A channel's JSON form for listings: its secret and password redacted."""
    data = asdict(channel)
    for name in SECRET_FIELDS:
        if data.get(name):
            data[name] = REDACTED
    if "to" in data:
        data["to"] = list(data["to"])
    return data


def channel_from_json(text: str) -> Channel:
    data = json.loads(text)
    if data.get("kind") == "email":
        return EmailChannel(**_known(EmailChannel, data))
    return WebhookChannel(**_known(WebhookChannel, data))


@dataclass(frozen=True, slots=True)
class Silence:
    """No notification for `rule` (one `subject`, or '' for all) until `until`
    (epoch seconds), and why."""

    rule: str
    until: float
    reason: str
    subject: str = ""

    @property
    def field(self) -> str:
        return silence_field(self.rule, self.subject)

    def to_json(self) -> str:
        return json.dumps({"until_ms": int(self.until * 1000), "reason": self.reason})

    def to_dict(self) -> dict[str, Any]:
        until = datetime.fromtimestamp(self.until, UTC).isoformat()
        return {"rule": self.rule, "subject": self.subject, "until": until,
                "reason": self.reason}  # fmt: skip


def silence_field(rule: str, subject: str = "") -> str:
    """Where a silence is kept: the rule's name, or `rule<TAB>subject`."""
    return f"{rule}\t{subject}" if subject else rule


def state_field(rule: str, subject: str) -> str:
    return f"{rule}\t{subject}"


@dataclass(frozen=True, slots=True)
class Notification:
    """What a channel sends: a rule firing or resolved for a subject (or a test)."""

    event: str  # firing, resolved, test
    rule: str
    subject: str
    level: str
    message: str
    value: float | None = None
    threshold: float | None = None
    at: float = 0.0  # epoch seconds
    app: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def body(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    def title(self) -> str:
        return f"[chronoq] {self.event.upper()} {self.rule} {self.subject}: {self.message}"

    def with_event(self, event: str) -> Notification:
        return replace(self, event=event)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook's `X-Chronoq-Signature`: `sha256=` and the hex HMAC-SHA256 of
    `timestamp.body` under the channel's secret. A receiver recomputes it, compares
    in constant time, and refuses old timestamps (replays)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()
