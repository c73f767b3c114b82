"""The API process of the bulk fault test: `uvicorn --factory tests.fault.bulk_api:make`,
configured from the environment (CHRONOQ_REDIS_URL, CHRONOQ_PREFIX, CHRONOQ_OPERATIONS_*)."""

from __future__ import annotations

from fastapi import FastAPI

from chronoq import App
from chronoq.api import create_api


def make() -> FastAPI:
    return create_api(App("bulk-fault"))
