"""Campaigns managed from Python: `async with campaigns(app) as c:` (or `with`).

The lifecycle is a few compare-and-set moves on the campaign's record (the store:
`client.backend.campaigns`), each followed by the matching move of its chronoq
schedule (`campaign.<name>`) and of its live run's workflow:

* create: the spec is validated (every task name against the app's registry and
  its workers' published tasks), stored, and its schedule added (paused while a
  draft);
* pause: the record first (step jobs already queued then defer at their grant),
  then the schedule and the live run's workflow (no pending send is released);
* resume: the record, the schedule, the workflow: every recipient not yet sent
  is sent once (their nodes are still pending; the step marks refuse a second);
* cancel: the record, the workflow (its waiting jobs cancelled), the schedule
  removed.

The running state is derived: a scheduled campaign with a live run is running.
Reads reconcile first: a live run whose workflow ended is recorded ended (failing
the campaign with its error, or completing it when no later run may start).
"""

from __future__ import annotations

import builtins
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from chronoq.campaigns.chain import RUN_TASK, layout, workflow_id
from chronoq.campaigns.model import (
    SUPPRESSING,
    CampaignSpec,
    CampaignState,
    CampaignView,
    Recipient,
    RunView,
    from_ms,
    usage_days,
)
from chronoq.campaigns.pacing import Forecast, forecast
from chronoq.campaigns.progress import progress
from chronoq.client import Client
from chronoq.core import serialization
from chronoq.core.errors import CampaignNotFound, ConfigurationError, JobNotFound, ScheduleNotFound
from chronoq.core.names import validate_campaign_name
from chronoq.manage.base import Handle, Opened, SyncFacade
from chronoq.manage.schedules import Schedules
from chronoq.redis.campaigns import CampaignStore
from chronoq.schedule.model import Misfire, Overlap, ScheduleDef
from chronoq.workflows.engine import ENDED, Workflows

STOP_REASONS = ("reply", "bounce", "unsubscribe")


def schedule_name(name: str) -> str:
    return f"campaign.{name}"


ONCE_MARGIN = timedelta(seconds=1)


def _first_run(once: datetime) -> datetime:
    """A `once` campaign's run: at its time, or at once when that has passed (a
    campaign created "now" is stored a moment later; a schedule whose only run is
    already in the past would never fire)."""
    return max(once, datetime.now(UTC) + ONCE_MARGIN)


class Campaigns(Opened):
    """Campaigns over one client (`campaigns(app)` opens one)."""

    def __init__(self, client: Client, timezone: str = "UTC") -> None:
        super().__init__(client, timezone)
        self.store: CampaignStore = client.backend.campaigns
        self.workflows = Workflows(client, timezone)
        self.schedules = Schedules(client, timezone)

    # -- create ------------------------------------------------------------------

    async def create(
        self, spec: CampaignSpec | dict[str, Any], *, draft: bool = False
    ) -> CampaignView:
        """Store a new campaign and its schedule. A bad field raises
        ConfigurationError naming it; an existing name too."""
        spec = CampaignSpec.parse(spec)
        await self._check_tasks(spec)
        definition = self._schedule_def(spec, paused=draft)
        created = await self.store.create(spec.name, serialization.dumps(spec.wire()), draft=draft)
        if created is None:
            raise ConfigurationError(f"campaign name: a campaign named {spec.name!r} exists")
        await self.schedules.add(definition, replace=True)
        return await self.get(spec.name)

    async def _check_tasks(self, spec: CampaignSpec) -> None:
        if await self.client.definition(RUN_TASK) is None:
            raise ConfigurationError(
                "campaigns are not installed in this app: call chronoq.campaigns.install(app)"
            )
        for index, step in enumerate(spec.steps):
            if await self.client.definition(step.task) is None:
                raise ConfigurationError(
                    f"campaign steps.{index}.task: no task named {step.task!r} is registered "
                    "(by this app or its workers)"
                )

    def _schedule_def(self, spec: CampaignSpec, *, paused: bool) -> ScheduleDef:
        s = spec.schedule
        return ScheduleDef(
            name=schedule_name(spec.name),
            task=RUN_TASK,
            spec=s.chronoq_spec(),
            tz=spec.timezone,
            args=[spec.name],
            start=_first_run(s.once) if s.once else s.start,
            end=s.end,
            max_runs=1 if s.once else None,
            priority=spec.priority,
            misfire=Misfire.ONCE,
            overlap=Overlap.ALLOW,
            paused=paused,
            pause_reason="draft" if paused else None,
        )

    # -- read --------------------------------------------------------------------

    async def get(self, name: str) -> CampaignView:
        """The campaign now: state, current run, progress per step, next send."""
        record = await self._reconciled(name)
        spec = CampaignSpec.parse(serialization.loads(record["spec"]))
        live = record.get("live", "")
        runs = int(record.get("runs", "0"))
        shown_run = int(live) if live else runs
        current = workflow_id(name, int(live)) if live else None
        w = await self.workflows.store.load(workflow_id(name, shown_run)) if shown_run else None
        deferrals = await self.store.deferrals(name) if live else {}
        steps = progress(layout(spec), w, deferrals)
        pending = [s.next_at for s in steps if s.next_at is not None]
        return CampaignView(
            name=name,
            state=_state(record),
            spec=spec.wire(),
            runs=runs,
            current_run=current,
            steps=steps,
            recipients=await self.store.enrolled(name),
            next_send=min(pending) if pending else None,
            last_error=record.get("last_error") or None,
            pause_reason=record.get("pause_reason") or None,
            refused=record.get("refused") or None,
            created=from_ms(record.get("created")),
            updated=from_ms(record.get("updated")),
        )

    async def list(
        self, *, state: CampaignState | None = None, limit: int = 50
    ) -> builtins.list[CampaignView]:
        """The newest campaigns first (those in `state` only, when given)."""
        views = []
        for name in await self.store.names(limit=limit if state is None else 10 * limit):
            with contextlib.suppress(CampaignNotFound):
                view = await self.get(name)
                if state is None or view.state is CampaignState(state):
                    views.append(view)
            if len(views) >= limit:
                break
        return views

    async def history(self, name: str, limit: int = 50) -> builtins.list[RunView]:
        """The campaign's runs, newest first."""
        await self._reconciled(name)
        return [_run_view(e) for e in (await self.store.runs(name))[:limit]]

    async def spec(self, name: str) -> CampaignSpec:
        record = await self._record(name)
        return CampaignSpec.parse(serialization.loads(record["spec"]))

    async def _record(self, name: str) -> dict[str, str]:
        record = await self.store.record(validate_campaign_name(name))
        if not record:
            raise CampaignNotFound(f"no campaign named {name!r}")
        return record

    async def _reconciled(self, name: str) -> dict[str, str]:
        """The record, after recording the end of a live run whose workflow ended
        (and completing a campaign no later run may come to)."""
        record = await self._record(name)
        live = record.get("live", "")
        if live:
            w = await self.workflows.store.load(workflow_id(name, int(live)))
            if w is not None and w.status in ENDED:
                final = await self._final(name, record)
                error = w.fields.get("error", "")
                await self.store.end_run(name, int(live), w.status, error, final=final)
                record = await self._record(name)
        elif record.get("state") == "scheduled" and await self._final(name, record):
            await self.store.transition(name, "complete")
            record = await self._record(name)
        return record

    async def _final(self, name: str, record: dict[str, str]) -> bool:
        """Whether no run after the last one may start: max_runs reached, a once,
        or the schedule over (its end passed: no next run)."""
        spec = CampaignSpec.parse(serialization.loads(record["spec"]))
        runs = int(record.get("runs", "0"))
        if spec.max_runs is not None and runs >= spec.max_runs:
            return True
        if spec.schedule.once is not None:
            return runs >= 1
        return spec.schedule.end is not None and spec.schedule.end <= datetime.now(UTC)

    async def forecast(
        self, campaign: str | CampaignSpec | dict[str, Any], *, now: datetime | None = None
    ) -> Forecast:
        """The campaign's sends simulated under its pacing and the account's sends
        already counted: a stored campaign's enrolled recipients not yet sent its
        first per-recipient step (before any is enrolled: its own recipients, else
        max_recipients of them); a spec's recipients (else max_recipients)."""
        now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
        if isinstance(campaign, str):
            spec = await self.spec(campaign)
            recipients: builtins.list[Recipient] | int = await self._unsent(spec)
        else:
            spec = CampaignSpec.parse(campaign)
            recipients = list(spec.recipients) or (spec.max_recipients or 0)
        sends = self.client.backend.campaign_sends
        usage = await sends.usage(spec.account, usage_days(spec, now_ms))
        return forecast(spec.pacing, spec.timezone, recipients, now_ms, usage)

    async def _unsent(self, spec: CampaignSpec) -> builtins.list[Recipient] | int:
        enrolled = await self.store.recipients(spec.name)
        if not enrolled:
            return list(spec.recipients) or (spec.max_recipients or 0)
        first = next((s.name for s in spec.steps if s.each), None)
        marks = await self.store.marks(spec.name)
        return [
            Recipient.from_found(r) for email, r in enrolled.items()
            if marks.get(f"{first}|{email}", {}).get("state") not in ("sent", "skipped")
        ]  # fmt: skip

    # -- control -----------------------------------------------------------------

    async def schedule(self, name: str) -> CampaignView:
        """A draft starts running on its schedule."""
        await self._move(name, "schedule")
        with contextlib.suppress(ScheduleNotFound):
            await self.schedules.resume(schedule_name(name), "scheduled")
        return await self.get(name)

    async def pause(self, name: str, reason: str = "") -> CampaignView:
        """Nothing more is sent until resume: queued step jobs defer at their grant,
        no pending send is released, no run starts."""
        await self._move(name, "pause", reason)
        record = await self._record(name)
        with contextlib.suppress(ScheduleNotFound):
            await self.schedules.pause(schedule_name(name), reason or "campaign paused")
        live = record.get("live", "")
        if live:
            with contextlib.suppress(JobNotFound):
                await self.workflows.pause(workflow_id(name, int(live)))
        return await self.get(name)

    async def resume(self, name: str) -> CampaignView:
        """Go on where it stopped: every recipient not yet sent is sent, once."""
        await self._move(name, "resume")
        record = await self._record(name)
        with contextlib.suppress(ScheduleNotFound):
            await self.schedules.resume(schedule_name(name), "campaign resumed")
        live = record.get("live", "")
        if live:
            with contextlib.suppress(JobNotFound):
                await self.workflows.resume(workflow_id(name, int(live)))
        return await self.get(name)

    async def cancel(self, name: str) -> CampaignView:
        """End the campaign: its live run's workflow is cancelled (waiting jobs
        too), its schedule removed. Its records stay, to be read."""
        await self._move(name, "cancel")
        record = await self._record(name)
        live = record.get("live", "")
        if live:
            with contextlib.suppress(JobNotFound):
                await self.workflows.cancel(workflow_id(name, int(live)))
        await self.schedules.remove(schedule_name(name))
        return await self.get(name)

    async def _move(self, name: str, action: str, reason: str = "") -> tuple[str, str]:
        moved = await self.store.transition(validate_campaign_name(name), action, reason)
        if moved is None:
            raise CampaignNotFound(f"no campaign named {name!r}")
        before, after = moved
        if before == after and before != _target(action):
            raise ConfigurationError(f"campaign {name!r} is {before}: it cannot {action}")
        return moved

    # -- stops and suppression ---------------------------------------------------

    async def record_stop(self, name: str | None, email: str, reason: str) -> None:
        """A reply, bounce or unsubscribe from `email`: its later steps in campaign
        `name` (None: every campaign it is enrolled in, found in the recipient's
        index, each checked against the campaign's own enrolment) end skipped; a
        bounce or an unsubscribe also suppresses it across campaigns."""
        if reason not in STOP_REASONS:
            raise ConfigurationError(f"stop reason: {reason!r} is not one of {STOP_REASONS}")
        key = _email_key(email)
        names = [name] if name is not None else await self.store.campaigns_of(key)
        for each in names:
            if name is not None:
                await self._record(each)
            elif not (await self.store.enrolled_emails(each, [key]))[0]:
                continue  # a stale index entry (the campaign was deleted)
            await self.store.record_stop(each, key, reason)
        if reason in SUPPRESSING:
            await self.store.suppress(key, reason)

    async def suppress(self, email: str, reason: str) -> None:
        """No campaign sends to `email` again (until unsuppressed)."""
        await self.store.suppress(_email_key(email), reason or "suppressed")

    async def unsuppress(self, email: str) -> bool:
        return await self.store.unsuppress(_email_key(email))

    async def suppressed(self, email: str) -> str | None:
        """Why `email` is suppressed, or None."""
        return await self.store.suppressed(_email_key(email))


def _run_view(entry: dict[str, Any]) -> RunView:
    return RunView(
        run=int(entry["run"]),
        workflow=entry["workflow"],
        status=entry["status"],
        started=from_ms(entry.get("started")),
        ended=from_ms(entry.get("ended")),
        error=entry.get("error") or None,
    )


def _target(action: str) -> str:
    return {"schedule": "scheduled", "pause": "paused", "resume": "scheduled",
            "cancel": "cancelled", "complete": "completed", "fail": "failed"}[action]  # fmt: skip


def _state(record: dict[str, str]) -> CampaignState:
    state = CampaignState(record.get("state", "draft"))
    if state is CampaignState.SCHEDULED and record.get("live"):
        return CampaignState.RUNNING
    return state


def _email_key(email: str) -> str:
    key = email.strip().lower()
    if "@" not in key:
        raise ConfigurationError(f"email: not an email address: {email!r}")
    return key


class SyncCampaigns(SyncFacade[Campaigns]):
    """`with campaigns(app) as c:` in sync code: the same operations, blocking."""

    def create(self, spec: CampaignSpec | dict[str, Any], *, draft: bool = False) -> CampaignView:
        return self._run(self._async.create(spec, draft=draft))

    def get(self, name: str) -> CampaignView:
        return self._run(self._async.get(name))

    def list(
        self, *, state: CampaignState | None = None, limit: int = 50
    ) -> builtins.list[CampaignView]:
        return self._run(self._async.list(state=state, limit=limit))

    def history(self, name: str, limit: int = 50) -> builtins.list[RunView]:
        return self._run(self._async.history(name, limit))

    def forecast(
        self, campaign: str | CampaignSpec | dict[str, Any], *, now: datetime | None = None
    ) -> Forecast:
        return self._run(self._async.forecast(campaign, now=now))

    def schedule(self, name: str) -> CampaignView:
        return self._run(self._async.schedule(name))

    def pause(self, name: str, reason: str = "") -> CampaignView:
        return self._run(self._async.pause(name, reason))

    def resume(self, name: str) -> CampaignView:
        return self._run(self._async.resume(name))

    def cancel(self, name: str) -> CampaignView:
        return self._run(self._async.cancel(name))

    def record_stop(self, name: str | None, email: str, reason: str) -> None:
        self._run(self._async.record_stop(name, email, reason))

    def suppress(self, email: str, reason: str) -> None:
        self._run(self._async.suppress(email, reason))

    def unsuppress(self, email: str) -> bool:
        return self._run(self._async.unsuppress(email))

    def suppressed(self, email: str) -> str | None:
        return self._run(self._async.suppressed(email))


def campaigns(app: Any) -> Handle[Campaigns, SyncCampaigns]:
    """Campaigns of `app`: `async with campaigns(app) as c:` or `with campaigns(app)
    as c:`; run a worker (it runs the campaigns' jobs) to see them progress."""
    return Handle(app.client, app.timezone, Campaigns, SyncCampaigns)
