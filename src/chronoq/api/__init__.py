"""chronoq's HTTP API: `chronoq.api.create_api(app) -> FastAPI`."""

from chronoq.api.app import create_api

__all__ = ["create_api"]
