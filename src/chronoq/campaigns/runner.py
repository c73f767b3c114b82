"""The campaign tasks: a run, the enrollment of its recipients, and the step
decorator whose body runs the grant before the user's function.

`install(app)` registers the built-ins once per app:

* `chronoq.campaigns.run(name)`, fired by the campaign's schedule: under the lock
  `campaign:<name>` it asks the store to start the next run with the lock's
  fencing token (refused: a stale token, a run still live, max_runs reached, a
  campaign not scheduled; the refusal is recorded on the campaign) and starts
  the run's workflow (`chronoq.campaigns.chain`). A run whose start was recorded
  but whose workflow is missing (a crash in between) gets it on the next try.
* `chronoq.campaigns.enroll(found, ...)`: the recipients new to the campaign
  (capped at max_recipients) with their planned send times.

`@campaign_step(app, name="outreach.email")` makes `fn(recipient, ctx)` a task
run once per (campaign, step, recipient): its grant defers while the campaign is
paused (15 s, no attempt spent), ends skipped when it is cancelled, when the
recipient stopped the campaign (reply, bounce, unsubscribe) or is suppressed, or
when that step already began for that recipient in another job.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from chronoq.app import App, Task
from chronoq.campaigns.chain import ENROLL_TASK, RUN_TASK, build_chain
from chronoq.campaigns.clients import shared_client
from chronoq.campaigns.context import CampaignContext
from chronoq.campaigns.grant import Deferred, grant
from chronoq.campaigns.model import CampaignSpec, Recipient, usage_days
from chronoq.campaigns.pacing import plan
from chronoq.campaigns.service import Campaigns
from chronoq.core import serialization
from chronoq.core.context import current_job
from chronoq.core.errors import ConfigurationError, LockTimeout, Permanent, RateLimited
from chronoq.core.names import validate_campaign_name
from chronoq.core.task import DEFAULT_QUEUE
from chronoq.redis.campaigns import CampaignStore

log = logging.getLogger("chronoq.campaigns")

PAUSED_RETRY = 15.0  # seconds a step job of a paused campaign waits before asking again
LOCK_WAIT = 10.0  # seconds a run waits for another run start of its campaign to finish
INSTALLED = "_chronoq_campaigns_installed"
app_clock: Callable[[], float] = time.time  # the grant's and the plan's clock (tests replace it)


def install(app: App, *, queue: str = DEFAULT_QUEUE) -> None:
    """Register the campaign tasks on `app` (once; again is a no-op)."""
    if getattr(app, INSTALLED, False):
        return
    setattr(app, INSTALLED, True)

    @app.task(name=RUN_TASK, queue=queue, max_retries=5)
    async def run(name: str) -> dict[str, Any]:
        return await start_run(app, name)

    @app.task(name=ENROLL_TASK, queue=queue, max_retries=5)
    async def enroll(
        found: Any = None, *, campaign: str, run: int, step: str, source: str
    ) -> list[dict[str, Any]]:
        return await enroll_recipients(app, found, campaign=campaign, step=step, source=source)


async def start_run(app: App, name: str) -> dict[str, Any]:
    """One run start of campaign `name` (the run task's body). Returns what
    happened: {"started": bool, "run", "workflow", "reason"}."""
    lock = app.lock(f"campaign:{name}", ttl=30, timeout=LOCK_WAIT)
    try:
        await lock.acquire()
    except LockTimeout:
        return {"started": False, "run": 0, "workflow": "", "reason": "locked"}
    try:
        client = await shared_client(app)
        service = Campaigns(client, app.timezone)
        await service._reconciled(name)
        spec = await service.spec(name)
        started = await client.backend.campaigns.start_run(
            name, fence=lock.fence or 0, max_runs=spec.max_runs
        )
        if started is None:
            return {"started": False, "run": 0, "workflow": "", "reason": "gone"}
        if started.started or started.reason == "live":
            await _ensure_workflow(service, spec, started.run, started.workflow)
        if not started.started:
            log.info("chronoq: campaign %s: run refused (%s)", name, started.reason)
        return {"started": started.started, "run": started.run,
                "workflow": started.workflow, "reason": started.reason}  # fmt: skip
    finally:
        await lock.release()


async def _ensure_workflow(service: Campaigns, spec: CampaignSpec, run: int, wf_id: str) -> None:
    """Start the run's workflow unless it exists (a retried or recovering start)."""
    if not run or await service.workflows.store.load(wf_id) is not None:
        return
    try:
        await service.workflows.start(build_chain(spec, run), workflow_id=wf_id)
    except ConfigurationError:
        if await service.workflows.store.load(wf_id) is None:
            raise  # not "exists already": a real error


async def enroll_recipients(
    app: App, found: Any, *, campaign: str, step: str, source: str
) -> list[dict[str, Any]]:
    """The recipients this step sends to, each with its planned `send_at`:
    `spec` (the campaign's own list), `found` (what the search step returned: a
    list of recipient objects; anything else fails the run, Permanent, and rows
    without a usable email are skipped and logged) or `carry` (those the previous
    fan-out sent to). New ones are enrolled first: never twice per campaign, never
    more than max_recipients."""
    client = await shared_client(app)
    store = client.backend.campaigns
    spec = await Campaigns(client, app.timezone).spec(campaign)
    candidates = _candidates(spec, found, source, step)
    if source != "carry":
        pairs = [(r.key, serialization.dumps(r.model_dump(mode="json"))) for r in candidates]
        enrolled = await store.enroll(campaign, pairs, max_recipients=spec.max_recipients)
        new = set(enrolled[1]) if enrolled else set()
        candidates = [r for r in candidates if r.key in new]
    now_ms = int(app_clock() * 1000)
    usage = await client.backend.campaign_sends.usage(spec.account, usage_days(spec, now_ms))
    slots = plan(spec.pacing, spec.timezone, candidates, now_ms, usage)
    return [{**r.model_dump(mode="json"), "send_at": slot.at_ms}
            for r, slot in zip(candidates, slots, strict=True)]  # fmt: skip


def _candidates(spec: CampaignSpec, found: Any, source: str, step: str) -> list[Recipient]:
    if source == "spec":
        rows: list[Any] = list(spec.recipients)
    elif source == "carry":
        rows = [o.get("item") for o in found or () if _was_sent(o)]
    else:
        rows = _found_rows(spec, found, step)
    out: dict[str, Recipient] = {}
    first_error = ""
    for index, row in enumerate(rows):
        try:
            recipient = Recipient.from_found(row)
        except ConfigurationError as exc:
            log.warning("chronoq: campaign %s: recipient %d skipped: %s", spec.name, index, exc)
            first_error = first_error or f"row {index}: {exc}"
            continue
        out.setdefault(recipient.key, recipient)  # the first of duplicates wins
    if source == "found" and rows and not out:
        raise Permanent(
            f"campaign {spec.name}: step {_before(spec, step)!r} returned {len(rows)} rows "
            f"and none is a recipient ({first_error})"
        )
    return list(out.values())


def _found_rows(spec: CampaignSpec, found: Any, step: str) -> list[Any]:
    """What the step before `step` (a search) returned, as rows: a list, else the
    run fails here with what it was (a search that returned a count, an error
    page's text or None found no recipients it can say it found)."""
    if isinstance(found, list):
        return found
    what = type(found).__name__ if found is not None else "None"
    raise Permanent(
        f"campaign {spec.name}: step {_before(spec, step)!r} returned {what} "
        f"({found!r:.80}), not a list of recipients (objects with an email)"
    )


def _before(spec: CampaignSpec, step: str) -> str:
    names = [s.name for s in spec.steps]
    index = names.index(step) if step in names else 0
    return names[index - 1] if index > 0 else step


def _was_sent(outcome: Any) -> bool:
    if not isinstance(outcome, dict) or outcome.get("status") != "succeeded":
        return False
    result = outcome.get("result")
    return isinstance(result, dict) and result.get("status") == "sent"


StepFn = Callable[[dict[str, Any], CampaignContext], Any]


def campaign_step(
    app: App, *, name: str, queue: str = DEFAULT_QUEUE, **options: Any
) -> Callable[[StepFn], Task]:
    """Register `fn(recipient, ctx)` as a campaign step task named `name`: each
    job runs the grant, then `fn` (sync or async). Its result is
    {"status": "sent", "result": ...} or {"status": "skipped", "reason": ...}.
    Other options go to `app.task` (retries, timeout, rate_limit, ...)."""
    install(app)

    def register(fn: StepFn) -> Task:
        async def step_job(recipient: Any, *, campaign: str, step: str, run: int) -> dict[str, Any]:
            return await run_step(app, fn, recipient, campaign=campaign, step=step, run=run)

        step_job.__doc__ = fn.__doc__
        return app.task(name=name, queue=queue, **options)(step_job)

    return register


async def run_step(
    app: App, fn: StepFn, recipient: Any, *, campaign: str, step: str, run: int
) -> dict[str, Any]:
    """One step job: the grant, then `fn`, then the step marked sent. A malformed
    recipient ends the job dead (Permanent) with the field it got wrong."""
    job = current_job()
    try:
        validate_campaign_name(campaign)
        if not isinstance(step, str) or not step:
            raise ConfigurationError(f"step: a step name, got {step!r:.80}")
        who = Recipient.from_found(recipient)
    except ConfigurationError as exc:
        raise Permanent(f"campaign {campaign!r:.80} step {step!r:.80}: {exc}") from None
    client = await shared_client(app)
    store = client.backend.campaigns
    spec = await _grant(store, campaign, step, who, job.id)
    if spec is SENT_BEFORE:  # this job's earlier run sent it, then its worker died
        return {"status": "sent", "result": None, "resumed": True}
    if isinstance(spec, str):
        return {"status": "skipped", "reason": spec}
    now_ms = int(app_clock() * 1000)
    paced = await grant(
        client.backend.campaign_sends, spec.pacing, account=spec.account,
        account_zone=spec.timezone, recipient=who, grant_id=f"{campaign}:{step}:{who.key}",
        now_ms=now_ms,
    )  # fmt: skip
    if isinstance(paced, Deferred):  # a window closed or a cap full: no attempt spent
        await store.defer(campaign, step, who.key, paced.until_ms, paced.reason)
        wait = max(0.0, (paced.until_ms - now_ms) / 1000)
        raise RateLimited(wait, f"campaign {campaign}: {paced.reason} (until {paced.until_ms})")
    ctx = CampaignContext(
        campaign=campaign, step=step, run=run, account=spec.account, recipient=who,
        ledger_key=CampaignContext.key_for(campaign, step), job_id=job.id,
    )  # fmt: skip
    if inspect.iscoroutinefunction(fn):
        result = await fn(recipient, ctx)
    else:
        result = await asyncio.to_thread(fn, recipient, ctx)
    await store.step_end(campaign, step, who.key, job.id)
    return {"status": "sent", "result": result}


SENT_BEFORE = "sent by an earlier run of this job"  # _grant's answer: report it as sent


async def _grant(
    store: CampaignStore, campaign: str, step: str, who: Recipient, job_id: str
) -> CampaignSpec | str:
    """The grant's campaign half: the campaign's spec to go on, else why the step
    is skipped; raises RateLimited to defer (paused), recorded as the step's
    deferral."""
    record = await store.record(campaign)
    if not record:
        return "campaign gone"
    spec = CampaignSpec.parse(serialization.loads(record["spec"]))
    suppressed = await store.suppressed(who.key) or ""
    grant = await store.step_begin(
        campaign, step, who.key, job_id, stops_on=list(spec.stops.on), suppressed=suppressed
    )
    if grant is None:
        return "campaign gone"
    if grant.decision == "defer":
        until_ms = int((app_clock() + PAUSED_RETRY) * 1000)
        await store.defer(campaign, step, who.key, until_ms, grant.reason)
        raise RateLimited(PAUSED_RETRY, f"campaign {campaign} is {grant.reason}")
    if grant.decision == "skip":
        return grant.reason
    if grant.decision == "sent":
        return SENT_BEFORE
    return spec
