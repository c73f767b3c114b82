"""Rich tables for people; the `--json` twins live beside each command."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from chronoq.client import EnqueuedJob
from chronoq.core.job import Job, JobStatus
from chronoq.core.sizes import megabytes
from chronoq.observe.failures import FailureGroup
from chronoq.observe.jobs import JobHistory
from chronoq.redis.inspector import QueueCounts

STATUS_STYLE = {
    JobStatus.SUCCEEDED: "green",
    JobStatus.RUNNING: "cyan",
    JobStatus.QUEUED: "blue",
    JobStatus.SCHEDULED: "blue",
    JobStatus.RETRYING: "yellow",
    JobStatus.DEAD: "red",
    JobStatus.EXPIRED: "magenta",
    JobStatus.CANCELLED: "dim",
    JobStatus.BLOCKED: "yellow",
    JobStatus.SKIPPED: "dim",
}


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if moment else "-"


def status_text(status: JobStatus) -> str:
    return f"[{STATUS_STYLE[status]}]{status.value}[/]"


def short(text: str | None, width: int = 60) -> str:
    if not text:
        return "-"
    line = text.strip().splitlines()[-1] if text.strip() else text
    return line if len(line) <= width else line[: width - 1] + "…"


def jobs_table(jobs: Iterable[Job], title: str = "jobs") -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("id", "task", "queue", "status", "tries", "enqueued (UTC)", "took", "error"):
        table.add_column(column, no_wrap=column in ("id", "enqueued (UTC)"))
    for job in jobs:
        table.add_row(
            job.id,
            job.task,
            job.queue,
            status_text(job.status),
            str(job.attempts),
            when(job.enqueued_at),
            f"{job.duration:.3f}s" if job.duration is not None else "-",
            "-" if job.status is JobStatus.SUCCEEDED else short(job.error, 50),
        )
    return table


def groups_table(groups: Iterable[FailureGroup]) -> Table:
    table = Table(title="failure groups", title_justify="left")
    columns = ("group", "class", "task", "dead", "failures", "accounts", "first seen (UTC)",
               "last seen (UTC)", "state", "error")  # fmt: skip
    for column in columns:
        table.add_column(column, no_wrap=column in ("group", "last seen (UTC)"))
    for g in groups:
        accounts = ", ".join(g.accounts[:3]) + (" ..." if g.account_count > 3 else "")
        table.add_row(
            g.fingerprint,
            g.error_class,
            g.task,
            str(g.dead),
            str(g.count),
            f"{g.account_count}: {accounts}" if g.account_count else "-",
            when(g.first_seen),
            when(g.last_seen),
            g.state,
            short(g.title, 60),
        )
    return table


def job_table(job: Job) -> Table:
    table = Table(title=f"job {job.id}", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows: list[tuple[str, str]] = [
        ("task", job.task),
        ("queue", job.queue),
        ("status", status_text(job.status)),
        ("args", _json_text(job.args) if job.raw_args is None else _undecodable(job.raw_args)),
        ("kwargs", _json_text(job.kwargs)),
        ("priority", str(job.priority)),
        ("attempts", f"{job.attempts} (max retries {_or_dash(job.max_retries)})"),
        ("enqueued", when(job.enqueued_at)),
        ("run at", when(job.run_at)),
        ("started", when(job.started_at)),
        ("finished", when(job.finished_at)),
        ("duration", f"{job.duration:.3f}s" if job.duration is not None else "-"),
        ("progress", progress_text(job)),
        ("deadline", when(job.deadline)),
        ("unique key", _or_dash(job.unique_key)),
        ("schedule", _schedule_text(job)),
        ("worker", _or_dash(job.worker_id)),
        ("result", _json_text(job.result) if job.status is JobStatus.SUCCEEDED else "-"),
        ("error", _clip(_or_dash(job.error))),
        ("failure", _failure_text(job)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    if job.traceback:
        table.add_row("traceback", _clip_start(job.traceback.rstrip()))
    return table


def _failure_text(job: Job) -> str:
    """'network, group 3f2a...; resolved 2026-... (note)': the last failure's class."""
    if job.error_class is None and job.resolved_at is None:
        return "-"
    text = f"{job.error_class or 'unclassified'}, group {job.error_group or '-'}"
    if job.resolved_at is not None:
        text += f"; resolved {when(job.resolved_at)}" + (
            f" ({job.resolution})" if job.resolution else ""
        )
    return text


def timeline_table(history: JobHistory) -> Table:
    """Every attempt of the job and what became of it, oldest first."""
    table = Table(title="timeline", title_justify="left")
    columns = ("#", "outcome", "started (UTC)", "ended (UTC)", "took", "worker", "RSS", "error")
    for column in columns:
        table.add_column(column, no_wrap=column in ("started (UTC)", "ended (UTC)"))
    for entry in history.timeline:
        number = "-" if entry.number is None else str(entry.number)
        if entry.number is not None and not entry.counted:
            number += " (not counted)"
        table.add_row(
            number,
            entry.outcome,
            when(entry.started_at),
            when(entry.finished_at),
            f"{entry.duration:.3f}s" if entry.duration is not None else "-",
            _or_dash(entry.worker),
            "-" if entry.peak_memory is None else f"{megabytes(entry.peak_memory)} MB",
            short(entry.error, 50),
        )
    return table


def progress_text(job: Job) -> str:
    """'40% copying files': the last progress the task reported ('-': none)."""
    if job.progress is None:
        return "-" if job.progress_message is None else job.progress_message
    percent = f"{job.progress * 100:.0f}%"
    return f"{percent} {job.progress_message}" if job.progress_message else percent


def _schedule_text(job: Job) -> str:
    if job.schedule is None:
        return "-"
    due = f" (run due {when(job.schedule_due)})" if job.schedule_due else " (triggered)"
    return job.schedule + due


def queues_table(counts: Iterable[QueueCounts]) -> Table:
    table = Table(title="queues", title_justify="left")
    table.add_column("queue")
    columns = ("waiting", "scheduled", "blocked", "running", "dead", "succeeded", "retried", "lost")
    for column in columns:
        table.add_column(column, justify="right")
    for row in counts:
        table.add_row(
            f"{row.queue} (paused)" if row.paused else row.queue,
            str(row.waiting),
            str(row.scheduled),
            str(row.blocked),
            str(row.running),
            str(row.dead),
            str(row.stats.get("succeeded", 0)),
            str(row.stats.get("retried", 0)),
            str(row.stats.get("lost", 0)),
        )
    return table


def queue_counts_dict(row: QueueCounts) -> dict[str, Any]:
    return row.to_dict()


def workers_table(workers: Iterable[Mapping[str, str]]) -> Table:
    table = Table(title="workers", title_justify="left")
    columns = ("id", "host", "pid", "queues", "concurrency", "running", "done", "started (UTC)")
    for column in columns:
        table.add_column(column, no_wrap=column == "id")
    for info in workers:
        started = info.get("started_at")
        table.add_row(
            info.get("id", "?"),
            info.get("host", "?"),
            info.get("pid", "?"),
            info.get("queues", "?"),
            info.get("concurrency", "?"),
            info.get("jobs_running", "?"),
            info.get("jobs_done", "?"),
            when(datetime.fromtimestamp(float(started), UTC)) if started else "-",
        )
    return table


def enqueued_dict(job: EnqueuedJob) -> dict[str, Any]:
    return {"id": job.id, "queue": job.queue, "status": job.status.value, "created": job.created}


RAW_SHOWN = 200  # characters of an undecodable payload worth showing
CELL_SHOWN = 2000  # characters of a value worth a table cell: --json prints them all


def _json_text(value: Any) -> str:
    """JSON for a table cell, clipped; a value the encoder cannot take says so in one line."""
    try:
        return _clip(json.dumps(value))
    except (RecursionError, ValueError, TypeError) as exc:
        return f"(cannot be shown: {type(exc).__name__})"


def _clip(text: str) -> str:
    """A long value's start, with its length (Rich would take minutes to fold 50 MB)."""
    if len(text) <= CELL_SHOWN:
        return text
    return f"{text[:CELL_SHOWN]}... ({len(text):,} characters in all; --json shows them)"


def _clip_start(text: str) -> str:
    """A long traceback's end: the frames nearest the error."""
    if len(text) <= CELL_SHOWN:
        return text
    return f"({len(text):,} characters in all; --json shows them) ...{text[-CELL_SHOWN:]}"


def _undecodable(raw: str) -> str:
    """Stored arguments that do not decode (not JSON, or nested too deep), clipped."""
    if len(raw) <= RAW_SHOWN:
        return f"(undecodable) {raw}"
    return f"(undecodable, {len(raw)} characters) {raw[:RAW_SHOWN]}..."


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)
