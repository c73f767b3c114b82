"""One module per view: its route(s) and the read models it shows."""

from fastapi import APIRouter

from chronoq.web.routes import (
    alerts,
    audit,
    dead,
    failures,
    health,
    job,
    jobs,
    limits,
    login,
    metrics,
    overview,
    quotas,
    schedules,
    workers,
)

ROUTERS: list[APIRouter] = [
    login.router,
    overview.router,
    jobs.router,
    job.router,
    failures.router,
    dead.router,
    schedules.router,
    limits.router,
    quotas.router,
    workers.router,
    health.router,
    metrics.router,
    alerts.router,
    audit.router,
]
