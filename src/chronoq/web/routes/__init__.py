"""One module per view: its route(s) and the read models it shows."""

from fastapi import APIRouter

from chronoq.web.routes import (
    alerts,
    audit,
    campaigns,
    dead,
    failures,
    health,
    job,
    jobs,
    limits,
    locks,
    login,
    metrics,
    operations,
    overview,
    queues,
    quotas,
    schedule_forms,
    schedulers,
    schedules,
    workers,
    workflows,
)

ROUTERS: list[APIRouter] = [
    login.router,
    overview.router,
    jobs.router,
    job.router,
    failures.router,
    dead.router,
    schedule_forms.router,  # its fixed paths (/schedules/new) before /schedules/{name}
    schedules.router,
    limits.router,
    quotas.router,
    workers.router,
    schedulers.router,
    queues.router,
    locks.router,
    operations.router,
    health.router,
    metrics.router,
    alerts.router,
    audit.router,
    workflows.router,
    campaigns.router,
]
