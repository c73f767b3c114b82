"""What a campaign is (pure: no I/O): its steps, schedule, pacing, stop conditions
and limits, as pydantic models that refuse unknown fields, and the read models a
campaign is shown as (`CampaignView`, `StepProgress`, `RunView`).

`CampaignSpec.parse(data)` is the one way in for outside data: a bad field raises
ConfigurationError naming it (`steps.1.task: ...`). Which task names exist is the
app's to say: `Campaigns.create` checks them against the registry.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chronoq.campaigns.pacing import Pacing, local_day
from chronoq.core.errors import ConfigurationError
from chronoq.core.job import require_aware
from chronoq.core.names import validate_campaign_name
from chronoq.core.zones import zone
from chronoq.schedule.spec import parse_duration, parse_spec
from chronoq.workflows.model import Delay

StopReason = Literal["reply", "bounce", "unsubscribe"]
SUPPRESSING = ("bounce", "unsubscribe")  # stops that also suppress across campaigns


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CampaignStep(_Strict):
    """One step: `each=False` one job (a search: its result is the recipients),
    `each=True` one job per recipient; `after` a delay before it ("2d",
    "2 business days" counted in the pacing windows)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    task: str = Field(min_length=1)
    each: bool = False
    after: str | None = None
    kwargs: dict[str, Any] = {}

    @field_validator("after")
    @classmethod
    def _delay(cls, value: str | None) -> str | None:
        Delay.parse(value)
        return value


class Schedule(_Strict):
    """When runs start: exactly one of `cron`, `every` ("1d") or `once` (an aware
    time); `start` and `end` bound them."""

    cron: str | None = None
    every: str | None = None
    once: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            parse_spec(value)
        return value

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("once", "start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            require_aware(value, "the time")
        return value

    @model_validator(mode="after")
    def _one(self) -> Schedule:
        given = [n for n in ("cron", "every", "once") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of cron, every or once (got {given or 'none'})")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def chronoq_spec(self) -> str:
        """The chronoq schedule spec: the cron, `@every`, or for `once` an interval
        that never comes round again (the schedule also gets max_runs=1)."""
        if self.cron is not None:
            return self.cron
        if self.every is not None:
            return f"@every {self.every}"
        return "@every 36500d"


class Stops(_Strict):
    """What stops a recipient's later steps (the suppression list always does)."""

    on: list[StopReason] = ["reply", "bounce", "unsubscribe"]


class Recipient(_Strict):
    """One recipient (what a search step returns, one dict each). Its identity is
    the email lowercased; `zone` its time zone for sending windows."""

    email: str = Field(min_length=3, max_length=320)
    name: str | None = None
    zone: str | None = None
    data: dict[str, Any] = {}

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        local, at, domain = value.strip().rpartition("@")
        if not at or not local or "." not in domain or any(c.isspace() for c in value.strip()):
            raise ValueError(f"not an email address: {value!r}")
        return value.strip()

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value

    @classmethod
    def from_found(cls, found: Any) -> Recipient:
        """A recipient from what a search returned (or a planned item): its known
        fields kept, any other field moved into `data`."""
        if isinstance(found, Recipient):
            return found
        if not isinstance(found, dict):
            raise ConfigurationError(
                f"recipient: an object with an email, got {type(found).__name__} {found!r:.80}"
            )
        known = {"email", "name", "zone", "data"}
        given = found.get("data", {})
        if not isinstance(given, dict):
            raise ConfigurationError(f"recipient data: an object, got {type(given).__name__}")
        data = {**given, **{k: v for k, v in found.items() if k not in known}}
        data.pop("send_at", None)
        try:
            return cls.model_validate({**{k: found[k] for k in known - {"data"} if k in found},
                                       "data": data})  # fmt: skip
        except ValidationError as exc:
            raise spec_error(exc, "recipient") from None

    @property
    def key(self) -> str:
        return self.email.lower()

    @property
    def domain(self) -> str:
        return self.key.rpartition("@")[2]


class CampaignSpec(_Strict):
    name: str
    account: str = Field(min_length=1, max_length=128, pattern=r"^[^{}\s]+$")
    timezone: str = "UTC"
    steps: list[CampaignStep] = Field(min_length=1)
    schedule: Schedule
    pacing: Pacing = Pacing()
    priority: int = 0
    stops: Stops = Stops()
    max_runs: int | None = Field(default=None, ge=1)
    max_recipients: int | None = Field(default=None, ge=1)
    recipients: list[Recipient] = []

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_campaign_name(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return zone(value).key

    @model_validator(mode="after")
    def _coherent(self) -> CampaignSpec:
        names = [s.name for s in self.steps]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"steps: step names must be unique: {twice} appear twice")
        needs_windows = [
            s.name for s in self.steps if (d := Delay.parse(s.after)) and d.business_days
        ]
        if needs_windows and not self.pacing.windows:
            raise ValueError(
                f"pacing.windows: steps {needs_windows} count business days: give windows"
            )
        if self.steps[0].each and not self.recipients:
            raise ValueError("recipients: the first step sends to each recipient: give them")
        return self

    @classmethod
    def parse(cls, data: Any) -> CampaignSpec:
        """A spec from JSON-like data (or a spec), ConfigurationError naming the
        first bad field."""
        if isinstance(data, CampaignSpec):
            return data
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise spec_error(exc) from None

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def spec_error(exc: ValidationError, what: str = "campaign") -> ConfigurationError:
    """A pydantic error as one ConfigurationError naming the field."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if not where:  # a check across fields: its message starts with the field it names
        where, _, message = message.partition(": ")
    error = ConfigurationError(f"{what} {where}: {message}{more}")
    error.field = where  # type: ignore[attr-defined]
    return error


class CampaignState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def from_ms(ms: Any) -> datetime | None:
    if ms in (None, "", 0, "0"):
        return None
    return datetime.fromtimestamp(int(float(ms)) / 1000, UTC)


class StepProgress(BaseModel):
    """One step of the current run: its jobs (one, or one per recipient) by outcome.
    `deferred`: pending jobs deferred at their grant (window, cap, paused);
    `next_at`: the soonest pending send (a deferral's time when later than the
    plan's); `failures`: failed jobs (the first 20), recipient email (or task) ->
    error, e.g. an email whose send is uncertain and was not resent."""

    name: str
    total: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    pending: int = 0
    deferred: int = 0
    next_at: datetime | None = None
    failures: dict[str, str] = {}

    def to_dict(self) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        out["next_at"] = iso(self.next_at)
        return out


class RunView(BaseModel):
    """One run of a campaign: its workflow and how it ended."""

    run: int
    workflow: str
    status: str
    started: datetime | None = None
    ended: datetime | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        out["started"], out["ended"] = iso(self.started), iso(self.ended)
        return out


class CampaignView(BaseModel):
    name: str
    state: CampaignState
    spec: dict[str, Any]
    runs: int = 0
    current_run: str | None = None
    steps: list[StepProgress] = []
    recipients: int = 0
    next_send: datetime | None = None
    last_error: str | None = None
    pause_reason: str | None = None
    refused: str | None = None
    created: datetime | None = None
    updated: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times ISO 8601 in UTC with 'Z'."""
        out = self.model_dump(mode="json", exclude={"steps"})
        out["steps"] = [s.to_dict() for s in self.steps]
        for name in ("next_send", "created", "updated"):
            out[name] = iso(getattr(self, name))
        return out


def usage_days(spec: CampaignSpec, now_ms: int) -> list[date]:
    """The account-local days whose sends a plan from now must count: today and
    tomorrow (later days have none yet: sends are counted when granted)."""
    today = local_day(spec.timezone, now_ms)
    return [today, today + timedelta(days=1)]
