"""What a workflow is: stages run one after another, each a step (one job) or a
fan-out (one job per item), with a delay before each (pure: no I/O).

A step after the first receives the previous stage's result as its first argument:
a step's return value, or, after a fan-out, the list of its branches' outcomes in
item order, each `{"item", "status", "result", "error"}` where status is
'succeeded', 'dead' or 'cancelled' (a fan-in sees every branch, failed ones too,
and decides). A fan-out's items are given, or are the previous result (a list).
A dead step ends the workflow as failed; a dead branch does not. (A node's call
is kept as JSON text: the scripts re-encode node JSON, and Lua cannot tell an
empty list from an empty object.)

Delays (`after=`): calendar time (`"30s"`, `"2d"`, `"1h30m"`), or `"N business
days"`: the opening of the first sending window on the Nth day after the previous
stage ended that has a window (`windows=`, e.g. `"mon-fri 09:00-17:00"`, in
`zone`), the window syntax of the rate limits (`chronoq.core.limits.Window`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chronoq.core.errors import ConfigurationError
from chronoq.core.limits import Window
from chronoq.core.serialization import dumps
from chronoq.core.zones import zone as zone_info
from chronoq.schedule.spec import parse_duration

MAX_ITEMS = 100_000  # branches of one fan-out
_BUSINESS = re.compile(r"^\s*(\d+)\s+business\s+days?\s*$", re.IGNORECASE)
_HORIZON_DAYS = 3660  # a business-day count that finds no window within ~10 years fails


def _task_name(task: Any) -> str:
    definition = getattr(task, "definition", task)
    name = getattr(definition, "name", None)
    if isinstance(name, str) and name:
        return name
    if isinstance(task, str) and task:
        return task
    raise ConfigurationError(
        f"a workflow step needs a task (an @app.task or its name), got {task!r}"
    )


@dataclass(frozen=True, slots=True)
class Delay:
    """A stage's wait after the previous one: calendar seconds or business days."""

    text: str
    seconds: float = 0.0
    business_days: int = 0

    @classmethod
    def parse(cls, text: str | None) -> Delay | None:
        if text is None or text == "":
            return None
        match = _BUSINESS.match(text)
        if match:
            days = int(match.group(1))
            if days < 1:
                raise ConfigurationError(f"bad delay {text!r}: give at least 1 business day")
            return cls(text, business_days=days)
        return cls(text, seconds=parse_duration(text).total_seconds())

    def due_ms(self, ended_ms: int, windows: Sequence[Window], zone: ZoneInfo) -> int:
        """When a stage with this delay is due, its predecessor having ended then."""
        if not self.business_days:
            return ended_ms + int(self.seconds * 1000)
        if not windows:
            raise ConfigurationError(
                f"delay {self.text!r} counts business days: give the workflow windows=, "
                "e.g. ['mon-fri 09:00-17:00']"
            )
        return business_due_ms(ended_ms, self.business_days, windows, zone)


def business_due_ms(ended_ms: int, days: int, windows: Sequence[Window], zone: ZoneInfo) -> int:
    """The first window opening on the `days`-th later local day that has one."""
    day = datetime.fromtimestamp(ended_ms / 1000, UTC).astimezone(zone).date()
    counted = 0
    for _ in range(_HORIZON_DAYS):
        day += timedelta(days=1)
        opens = [span[0] for w in windows if (span := w.intervals(day, zone)) is not None]
        if opens:
            counted += 1
            if counted == days:
                return int(min(opens).timestamp() * 1000)
    raise ConfigurationError("the windows never open: no business day found")


@dataclass(frozen=True, slots=True)
class Step:
    """One job: `task(previous_result, *args, **kwargs)` (the first stage without
    a previous result: `task(*args, **kwargs)`)."""

    task: Any
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    after: str | None = None

    def __init__(self, task: Any, *args: Any, after: str | None = None, **kwargs: Any) -> None:
        object.__setattr__(self, "task", task)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "kwargs", kwargs)
        object.__setattr__(self, "after", after)

    def to_wire(self) -> dict[str, Any]:
        Delay.parse(self.after)
        return {"kind": "step", "task": _task_name(self.task), "args": list(self.args),
                "kwargs": dict(self.kwargs), "after": self.after}  # fmt: skip


@dataclass(frozen=True, slots=True)
class FanOut:
    """One job per item: `task(item, *args, **kwargs)`. Items None: the previous
    stage's result, which must be a list.

    `at`: the name of a field of each item (a dict) holding that item's own due
    time, epoch ms or an ISO 8601 time with its offset: its branch waits until the
    later of the stage's due time and its own (an item without it: the stage's)."""

    task: Any
    items: Sequence[Any] | None = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    after: str | None = None
    at: str | None = None

    def to_wire(self) -> dict[str, Any]:
        Delay.parse(self.after)
        if self.items is not None and len(self.items) > MAX_ITEMS:
            raise ConfigurationError(f"a fan-out takes at most {MAX_ITEMS} items")
        if self.at is not None and (not isinstance(self.at, str) or not self.at):
            raise ConfigurationError(f"a fan-out's at= names an item field, got {self.at!r}")
        items = None if self.items is None else list(self.items)
        if items is not None and self.at is not None:
            for index, item in enumerate(items):
                item_due_ms(item, self.at, index)  # a bad due fails now, not at run time
        return {
            "kind": "fan_out", "task": _task_name(self.task), "items": items,
            "args": list(self.args), "kwargs": dict(self.kwargs), "after": self.after,
            "at": self.at,
        }  # fmt: skip


def fan_out(
    task: Any, items: Sequence[Any] | None = None, *args: Any, after: str | None = None,
    at: str | None = None, **kwargs: Any,
) -> FanOut:  # fmt: skip
    """A fan-out stage (see `FanOut`; task keyword arguments named `after` or `at`
    are given to `FanOut` itself)."""
    return FanOut(task, None if items is None else list(items), args, kwargs, after, at)


def item_due_ms(item: Any, at: str, index: int) -> int | None:
    """An item's own due time (epoch ms) from its field `at`, None without one."""
    if not isinstance(item, Mapping) or item.get(at) is None:
        return None
    value = item[at]
    if isinstance(value, bool):
        raise ConfigurationError(f"fan-out item {index}: {at!r} is not a time: {value!r}")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return int(moment.timestamp() * 1000)
    raise ConfigurationError(
        f"fan-out item {index}: {at!r} must be epoch ms or an ISO time with its offset, "
        f"got {value!r}"
    )


Stage = Step | FanOut


@dataclass(frozen=True, slots=True)
class Chain:
    """A workflow: its stages in order; `windows` and `zone` count business days;
    `priority`, when given, is every step job's (a campaign's priority reaches its
    sends; None: each task's own)."""

    stages: Sequence[Stage]
    name: str = ""
    windows: Sequence[str] = ()
    zone: str = "UTC"
    priority: int | None = None

    def to_wire(self) -> dict[str, Any]:
        if not self.stages:
            raise ConfigurationError("a workflow needs at least one step")
        for window in self.windows:
            Window.parse(window)
        zone_info(self.zone)
        stages = [stage.to_wire() for stage in self.stages]
        for stage in stages:
            delay = Delay.parse(stage["after"])
            if delay is not None and delay.business_days and not self.windows:
                raise ConfigurationError(
                    f"delay {delay.text!r} counts business days: give the workflow windows=, "
                    "e.g. ['mon-fri 09:00-17:00']"
                )
        if stages[0]["kind"] == "fan_out" and stages[0]["items"] is None:
            raise ConfigurationError("a fan-out that starts a workflow needs its items")
        wire: dict[str, Any] = {"name": self.name, "stages": stages,
                                "windows": list(self.windows), "zone": self.zone}  # fmt: skip
        if self.priority is not None:
            wire["priority"] = int(self.priority)
        return wire


@dataclass(frozen=True, slots=True)
class Plan:
    """A stored spec, parsed once for the engine's decisions."""

    stages: list[dict[str, Any]]
    windows: tuple[Window, ...]
    zone: ZoneInfo

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> Plan:
        windows = tuple(Window.parse(w) for w in spec.get("windows", ()))
        return cls(list(spec["stages"]), windows, zone_info(spec.get("zone", "UTC")))

    def due_ms(self, stage: int, ended_ms: int) -> int:
        delay = Delay.parse(self.stages[stage].get("after"))
        return ended_ms if delay is None else delay.due_ms(ended_ms, self.windows, self.zone)

    def nodes(self, stage: int, previous: Any, ended_ms: int, *, first: bool) -> dict[str, Any]:
        """The nodes of stage `stage` (node id -> node), its predecessor's result
        being `previous` (ignored by the first stage)."""
        s = self.stages[stage]
        due = self.due_ms(stage, ended_ms)
        args, kwargs = list(s.get("args", ())), dict(s.get("kwargs", {}))
        base = {"stage": stage, "task": s["task"], "state": "pending", "due": due}
        if s["kind"] == "step":
            call = [args if first else [previous, *args], kwargs]
            return {str(stage): {**base, "item": None, "call": dumps(call)}}
        items = s.get("items")
        if items is None:
            items = previous
        if not isinstance(items, list):
            raise ConfigurationError(
                f"stage {stage} fans out over the previous result, which is not a list: "
                f"{type(items).__name__}"
            )
        if len(items) > MAX_ITEMS:
            raise ConfigurationError(f"a fan-out takes at most {MAX_ITEMS} items")
        at = s.get("at")
        nodes = {}
        for i, item in enumerate(items):
            node = {**base, "item": i, "call": dumps([[item, *args], kwargs])}
            own = item_due_ms(item, at, i) if at else None
            if own is not None and own > due:
                node["due"] = own
            nodes[f"{stage}.{i}"] = node
        return nodes
