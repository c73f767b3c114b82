"""The shared filter grammar: parsing, errors naming the term, the canonical text
round trip, and negation applied by a real search."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chronoq import Client, JobStatus
from chronoq.observe.filters import FilterError, format_filter, parse_filter
from chronoq.observe.search import JobFilter, JobSearch
from tests.observe.history import run_jobs

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()


def test_terms_become_fields() -> None:
    where = parse_filter(
        'task:send status:dead -account:acme since:2h error:"connection reset"', now=NOW
    )
    assert where.task == "send" and where.status is JobStatus.DEAD
    assert where.not_accounts == ("acme",)
    assert where.since == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert where.error_contains == "connection reset"


def test_bare_words_are_error_text_and_negations_repeat() -> None:
    where = parse_filter("timeout -task:a -task:b -status:succeeded -queue:mail -refused")
    assert where.error_contains == "timeout"
    assert where.not_tasks == ("a", "b") and where.not_queues == ("mail",)
    assert where.not_statuses == (JobStatus.SUCCEEDED,)
    assert where.not_error_contains == ("refused",)


def test_quotes_escape_and_round_trip() -> None:
    where = parse_filter(r'error:"say \"hi\" now" -account:"big co" until:2026-11-30T10:00:00Z')
    assert where.error_contains == 'say "hi" now' and where.not_accounts == ("big co",)
    text = format_filter(where)
    assert text == (r'error:"say \"hi\" now" until:2026-11-30T10:00:00Z -account:"big co"')
    assert parse_filter(text) == where


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stauts:dead", "unknown key 'stauts'"),
        ("status:sleeping", "unknown status 'sleeping'"),
        ("task:a task:b", "task is given twice"),
        ("-since:2h", "since cannot be negated"),
        ('error:"open', "unclosed quote"),
        ("since:yesterday", "neither a duration"),
        ("since:2026-11-30T10:00:00", "has no UTC offset"),
        ("task:", "task has an empty value"),
        ("-status:running", "excluding running means nothing"),
    ],
)
def test_bad_filters_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse_filter(text)


def test_a_field_set_twice_by_flag_and_filter_is_refused() -> None:
    with pytest.raises(FilterError, match="task is given twice"):
        parse_filter("task:a", task="b")
    assert parse_filter("-task:a", task="b") == JobFilter(task="b", not_tasks=("a",))


async def test_negation_in_a_real_search(client: Client) -> None:
    ok_x = set(await run_jobs(client, "a", 3, account="x"))
    dead_y = set(await run_jobs(client, "a", 2, account="y", error=ConnectionError("refused")))
    dead_b = set(await run_jobs(client, "b", 2, error=ValueError("bad input")))
    mail = set(await run_jobs(client, "c", 2, queue="mail"))

    async def found(text: str) -> set[str]:
        page = await JobSearch(client.backend).search(parse_filter(text), limit=100)
        return {job.id for job in page.jobs}

    assert await found("-account:x") == dead_y | dead_b | mail
    assert await found("-task:a -queue:mail") == dead_b
    assert await found("-status:dead") == ok_x | mail
    assert await found("-status:succeeded") == dead_y | dead_b
    assert await found("status:dead -refused") == dead_b
    assert await found("task:a -status:dead -status:succeeded") == set()
