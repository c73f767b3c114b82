"""Schedule definitions: validation, start/end/max runs, misfire policies, jitter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chronoq.core.errors import ConfigurationError, SerializationError
from chronoq.schedule.model import Misfire, Overlap, ScheduleDef

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def every_minute(**kw: object) -> ScheduleDef:
    return ScheduleDef("s", "t", "* * * * *", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"spec": "* * *"}, "has 3 fields"),
        ({"tz": "Europe/Atlantis"}, "unknown time zone 'Europe/Atlantis'"),
        ({"spec": "@every 0m"}, "positive duration"),
        ({"start": T0, "end": T0 - timedelta(days=1)}, "ends .* before it starts"),
        ({"start": datetime(2026, 1, 1)}, "schedule start must be a time-zone-aware"),
        ({"max_runs": 0}, "max_runs must be at least 1"),
        ({"jitter": -1}, "jitter must be >= 0"),
        ({"name": "bad name!"}, "schedule name 'bad name!'"),
        ({"task": ""}, "names no task"),
    ],
)
def test_bad_definitions_are_refused_with_the_reason(
    kwargs: dict[str, object], message: str
) -> None:
    base: dict[str, object] = {"name": "s", "task": "t", "spec": "* * * * *"}
    with pytest.raises(ConfigurationError, match=message):
        ScheduleDef(**(base | kwargs))  # type: ignore[arg-type]


def test_arguments_must_be_json() -> None:
    with pytest.raises(SerializationError):
        ScheduleDef("s", "t", "* * * * *", args=[object()])


def test_start_end_and_max_runs_bound_the_runs() -> None:
    d = every_minute(start=T0 + timedelta(minutes=10), end=T0 + timedelta(minutes=12))
    assert d.next_run_after(T0) == T0 + timedelta(minutes=10)  # the start itself is a run
    assert d.next_run_after(T0 + timedelta(minutes=11)) == T0 + timedelta(minutes=12)
    assert d.next_run_after(T0 + timedelta(minutes=12)) is None
    limited = every_minute(max_runs=3)
    assert limited.next_run_after(T0, runs_so_far=2) is not None
    assert limited.next_run_after(T0, runs_so_far=3) is None


def test_every_runs_on_its_anchor_phase() -> None:
    d = ScheduleDef("s", "t", "@every 2h", anchor=T0 + timedelta(minutes=7))
    assert d.next_run_after(T0 + timedelta(hours=5)) == T0 + timedelta(hours=6, minutes=7)


def test_misfire_policies_after_downtime() -> None:
    due = T0
    now = T0 + timedelta(minutes=10, seconds=30)  # 11 runs pending, the last 30 s ago
    minutes = [T0 + timedelta(minutes=m) for m in range(11)]
    assert every_minute(misfire=Misfire.ONCE, grace=10).runs_to_fire(due, now) == minutes[-1:]
    assert every_minute(misfire=Misfire.SKIP, grace=10).runs_to_fire(due, now) == []
    assert every_minute(misfire=Misfire.ALL, grace=10).runs_to_fire(due, now) == minutes
    # Runs within grace are late, not missed: they fire under every policy.
    for policy in Misfire:
        late = every_minute(misfire=policy, grace=100).runs_to_fire(due, now)
        assert late[-2:] == minutes[-2:]
    assert every_minute(misfire=Misfire.ONCE, grace=100).runs_to_fire(due, now) == minutes[-2:]
    assert every_minute(misfire=Misfire.SKIP, grace=100).runs_to_fire(due, now) == minutes[-2:]


def test_on_time_run_fires_under_every_policy() -> None:
    for policy in Misfire:
        d = every_minute(misfire=policy, grace=5)
        assert d.runs_to_fire(T0, T0 + timedelta(milliseconds=3)) == [T0]


def test_jitter_is_stable_and_bounded() -> None:
    d = every_minute(jitter=30)
    delays = [d.jitter_for(T0 + timedelta(minutes=m)) for m in range(200)]
    assert all(0 <= x < 30 for x in delays) and len(set(delays)) > 150
    assert d.jitter_for(T0) == every_minute(jitter=30).jitter_for(T0)
    assert every_minute().jitter_for(T0) == 0


def test_json_round_trip_and_fingerprint() -> None:
    d = ScheduleDef(
        "report", "app.report", "30 2 * * *", tz="Europe/Paris", args=[1], kwargs={"a": "b"},
        start=T0, misfire=Misfire.ALL, overlap=Overlap.SKIP, jitter=5,
    )  # fmt: skip
    assert ScheduleDef.from_json(d.to_json()) == d
    assert d.fingerprint() == d.with_changes(paused=True).fingerprint()
    assert d.fingerprint() != d.with_changes(spec="0 3 * * *").fingerprint()


def test_a_deadline_counts_from_the_run_time_after_its_jitter() -> None:
    run = datetime(2026, 12, 1, 9, tzinfo=UTC)
    d = ScheduleDef("post", "t", "0 9 * * *", deadline=3 * 3600, jitter=60)
    assert d.deadline_for(run) == run + timedelta(seconds=d.jitter_for(run) + 3 * 3600)
    assert ScheduleDef("post", "t", "0 9 * * *").deadline_for(run) is None
    assert ScheduleDef.from_json(d.to_json()) == d
    assert "deadline" not in ScheduleDef("post", "t", "0 9 * * *").to_json()
    with pytest.raises(ConfigurationError, match="deadline must be a positive number"):
        ScheduleDef("post", "t", "0 9 * * *", deadline=0)
