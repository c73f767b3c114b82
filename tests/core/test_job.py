"""Job options and ids: validated up front, times must carry a zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chronoq.core.errors import ConfigurationError
from chronoq.core.ids import new_job_id
from chronoq.core.job import JobOptions, JobStatus


def test_ids_sort_by_creation_and_do_not_collide() -> None:
    ids = [new_job_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 for i in ids)
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_retries": -1}, "max_retries must be >= 0"),
        ({"timeout": 0}, "timeout must be > 0"),
        ({"priority": 5000}, "priority must be within"),
        ({"deadline": datetime(2030, 1, 1)}, "time-zone-aware"),
        ({"unique_key": ""}, "unique_key must not be empty"),
    ],
)
def test_bad_options_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        JobOptions(**kwargs)  # type: ignore[arg-type]


def test_aware_deadline_is_fine() -> None:
    assert JobOptions(deadline=datetime(2030, 1, 1, tzinfo=UTC)).deadline is not None


def test_status_families() -> None:
    waiting = {s for s in JobStatus if s.is_waiting}
    finished = {s for s in JobStatus if s.is_finished}
    assert waiting == {
        JobStatus.SCHEDULED,
        JobStatus.QUEUED,
        JobStatus.RETRYING,
        JobStatus.BLOCKED,
    }
    assert finished == {
        JobStatus.SUCCEEDED,
        JobStatus.DEAD,
        JobStatus.CANCELLED,
        JobStatus.EXPIRED,
        JobStatus.SKIPPED,
    }
    assert not waiting & finished and JobStatus.RUNNING not in waiting | finished
