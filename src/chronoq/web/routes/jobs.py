"""Jobs: finished jobs searched on the server (task, status, queue, account, error
text, failure group, time window), waiting and running ones listed by state; the
filters live in the query string, so a filtered view is a link to share. Live: the
newest job events, as they happen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chronoq.core.errors import ConfigurationError
from chronoq.core.job import Job, JobStatus
from chronoq.observe.filters import parse_filter
from chronoq.observe.search import JobFilter, JobSearch, parse_moment
from chronoq.web.auth import Reader, state_of
from chronoq.web.live import Fragments, Tick, live_view
from chronoq.web.render import page, render_fragment
from chronoq.web.state import DashboardState

router = APIRouter()
FIELDS = ("filter", "status", "queue", "task", "account", "error", "group", "since", "until")
PAGE = 50


@dataclass(frozen=True, slots=True)
class Query:
    """The filters as the query string gives them (kept as typed, for the form)."""

    values: dict[str, str]

    @classmethod
    def of(cls, request: Request) -> Query:
        return cls({k: request.query_params.get(k, "").strip() for k in FIELDS})

    def status(self) -> JobStatus | None:
        text = self.values["status"]
        if not text:
            return None
        try:
            return JobStatus(text)
        except ValueError:
            names = ", ".join(s.value for s in JobStatus)
            raise ConfigurationError(f"unknown status {text!r}: one of {names}") from None

    def job_filter(self) -> JobFilter:
        """The shared grammar's text (`task:a -status:succeeded since:2h`, negation
        included) and the form's fields, together (a field set both ways is an
        error)."""
        v = self.values
        given: dict[str, Any] = {
            "task": v["task"] or None,
            "status": self.status(),
            "queue": v["queue"] or None,
            "account": v["account"] or None,
            "since": parse_moment(v["since"], "since") if v["since"] else None,
            "until": parse_moment(v["until"], "until") if v["until"] else None,
            "error_contains": v["error"] or None,
            "error_group": v["group"] or None,
        }
        return parse_filter(v["filter"], **{k: x for k, x in given.items() if x is not None})

    def link(self, **changes: str) -> str:
        """This query string with `changes` (empty values left out)."""
        merged = {**self.values, **changes}
        return urlencode({k: v for k, v in merged.items() if v})


async def find(state: DashboardState, query: Query, cursor: str | None) -> dict[str, Any]:
    backend = await state.backend()
    status = query.status()
    if status is not None and not status.is_finished:
        others = [k for k in ("filter", "task", "account", "error", "group", "since", "until")
                  if query.values[k]]  # fmt: skip
        if others:
            raise ConfigurationError(
                f"{status.value} jobs are listed by queue only; the search filters "
                f"({', '.join(others)}) cover finished jobs"
            )
        jobs: list[Job] = await backend.inspector.list_jobs(
            status=status, queue=query.values["queue"] or None, limit=PAGE
        )
        return {"jobs": jobs, "next_cursor": None, "examined": len(jobs)}
    found = await JobSearch(backend).search(query.job_filter(), limit=PAGE, cursor=cursor)
    return {"jobs": found.jobs, "next_cursor": found.next_cursor, "examined": found.examined}


@router.get("/jobs")
async def jobs(request: Request, who: Reader, cursor: str = "") -> Response:
    state = state_of(request)
    query = Query.of(request)
    backend = await state.backend()
    model = await find(state, query, cursor or None)
    return page(
        request,
        "jobs.html",
        view="jobs",
        live="jobs",
        query=query.values,
        next_link=query.link(cursor=model["next_cursor"]) if model["next_cursor"] else "",
        statuses=[s.value for s in JobStatus],
        queues=await backend.inspector.queues(),
        recent=list(reversed(hub_recent(request))),
        **model,
    )


def hub_recent(request: Request) -> list[Any]:
    return list(request.app.state.live.recent)


@live_view("jobs")
async def live_jobs(state: DashboardState, tick: Tick, _: str) -> Fragments:
    recent = list(reversed(tick.recent))
    return {"job-events": render_fragment(state.base, "_job_events.html", recent=recent)}
