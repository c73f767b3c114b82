"""The whole site (`create_site`: the API with the dashboard mounted at `/`): the
dashboard's forms (form bodies) pass the API's body gate, whose JSON rule is the
API's routes' alone; the size limit still holds everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from chronoq import App
from chronoq.web.site import create_site
from tests.web.conftest import ORIGIN, Tokens, client_for, log_in


@pytest.fixture
async def site(web_app: App) -> AsyncIterator[FastAPI]:
    made = create_site(web_app)
    async with made.router.lifespan_context(made):
        yield made


async def test_the_dashboard_logs_in_by_form_through_the_site(
    site: FastAPI, tokens: Tokens
) -> None:
    async with client_for(site) as http:
        csrf = await log_in(http, tokens.operate)
        overview = await http.get("/")
        assert overview.status_code == 200
        assert "chronoq-csrf" in overview.text
        out = await http.post("/logout", data={"csrf": csrf}, headers={"origin": ORIGIN})
        assert out.status_code == 303, out.text
        assert (await http.get("/")).status_code in (303, 307)


async def test_the_api_routes_keep_the_json_rule_and_every_route_the_size_limit(
    site: FastAPI, tokens: Tokens
) -> None:
    bearer = {"Authorization": f"Bearer {tokens.operate}"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with client_for(site) as http:
        refused = await http.post("/v1/jobs", content=b"task=add", headers={**bearer, **form})
        assert refused.status_code == 415
        assert "must be JSON" in refused.json()["detail"]
        huge = await http.post("/login", content=b"token=" + b"x" * (2 * 2**20), headers=form)
        assert huge.status_code == 413
