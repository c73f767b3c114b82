"""schemathesis against /openapi.json on a live server: whatever it sends, valid
or not (both generation modes), no 5xx, and every 4xx is a problem+json body.
Bounded: a few examples per operation and mode."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from chronoq.api import create_api
from chronoq.core.access import Role
from tests.api.api_app import make_app
from tests.api.live import serving

EXAMPLES = 6  # per operation and mode: ~70 operations x 2 modes in well under a minute


@dataclass(frozen=True)
class Live:
    url: str
    token: str


@pytest.fixture(scope="module")
def live(redis_url: str) -> Iterator[Live]:
    """The API of a fresh prefix under uvicorn, in a thread, with an admin token."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    app = make_app(redis_url, prefix)

    async def token() -> str:
        async with app.backend() as backend:
            return (await backend.access.create_token("contract", Role.ADMIN))[1]

    visible = asyncio.run(token())
    api = create_api(app, rate="100000/s")  # metered (the pipelined path), never 429
    with serving(api) as url:
        yield Live(url, visible)
    conn = redis.Redis.from_url(redis_url)
    stale = list(conn.scan_iter(match=f"{prefix}:*", count=1000))
    if stale:
        conn.delete(*stale)
    conn.close()


def _check(case: schemathesis.Case, live: Live) -> None:
    response = case.call(base_url=live.url, headers={"Authorization": f"Bearer {live.token}"})
    where = (case.method, case.formatted_path, case.query, case.body)
    assert response.status_code < 500, (where, response.text)
    if 400 <= response.status_code < 500:
        (content_type,) = response.headers.get("content-type", [""])
        assert content_type.startswith("application/problem+json"), (where, response.text)
        body = response.json()
        assert body["status"] == response.status_code and body["detail"], body


@pytest.mark.timeout(300)
def test_no_5xx_and_every_4xx_is_a_problem(live: Live) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    covered = {(operation.method.upper(), operation.path) for operation in operations}
    assert {("POST", "/v1/channels/{name}/test"), ("POST", "/v1/jobs/{job_id}/retry"),
            ("DELETE", "/v1/jobs/{job_id}"),
            ("POST", "/campaign/addScheduledCampaign")} <= covered  # fmt: skip
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def run(case: schemathesis.Case) -> None:
            _check(case, live)

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing of it can be made invalid
