"""Issue 11 (HTTP API and dashboard) as the issue names it, against one real
`chronoq dashboard APP --host H --port P` process for the module."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis

from tests.acceptance.helpers import ROOT, env, free_port, run_cli, wait_for

APP = "tests.acceptance.accept_app:app"


@dataclass(frozen=True)
class Site:
    base: str
    prefix: str
    redis_url: str
    admin: str

    def api(self) -> httpx.Client:
        auth = {"Authorization": f"Bearer {self.admin}"}
        return httpx.Client(base_url=self.base, headers=auth, timeout=30)


@pytest.fixture(scope="module")
def site(redis_url: str) -> Iterator[Site]:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    made = run_cli(["tokens", "create", "--role", "admin", "--name", "ops", "--json"],
                   redis_url, prefix)  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = httpx.Response(200, content=made.stdout).json()["token"]
    port = free_port()
    command = [sys.executable, "-m", "chronoq", "dashboard", APP, "--host", "127.0.0.1",
               "--port", str(port), "--redis-url", redis_url, "--prefix", prefix]  # fmt: skip
    limited = {**env(), "CHRONOQ_API_RATE": "40/s"}
    served = subprocess.Popen(command, cwd=ROOT, env=limited, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/healthz", timeout=2), served)
        yield Site(base, prefix, redis_url, token)
    finally:
        served.terminate()
        served.communicate(timeout=30)
        conn = redis.Redis.from_url(redis_url)
        keys = list(conn.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            conn.delete(*keys)
        conn.close()


def test_tokens_create_prints_a_token_once_and_json_gives_token(site: Site) -> None:
    text = run_cli(["tokens", "create", "--role", "read"], site.redis_url, site.prefix)
    assert text.returncode == 0 and re.fullmatch(r"cq_\w+\n", text.stdout), text.stdout
    listed = run_cli(["tokens", "list", "--json"], site.redis_url, site.prefix).stdout
    assert text.stdout.strip() not in listed  # never shown again
    revoked = run_cli(["tokens", "revoke", "ops-none"], site.redis_url, site.prefix)
    assert revoked.returncode != 0


def test_openapi_json_health_endpoints_and_auth(site: Site) -> None:
    doc = httpx.get(f"{site.base}/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "post" in doc["paths"]["/campaign/addScheduledCampaign"]
    assert httpx.get(f"{site.base}/healthz").status_code == 200
    assert httpx.get(f"{site.base}/readyz").status_code == 200
    unauthenticated = httpx.get(f"{site.base}/v1/health")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"].startswith("application/problem+json")
    with site.api() as api:
        assert api.get("/v1/health").json()["status"] in ("ok", "warning", "critical")


def test_every_v1_resource_the_api_lists_answers(site: Site) -> None:
    with site.api() as api:
        for path in ["/v1/jobs", "/v1/tasks", "/v1/queues", "/v1/dead", "/v1/dead/groups",
                     "/v1/schedules", "/v1/calendar", "/v1/limits", "/v1/quotas", "/v1/locks",
                     "/v1/workers", "/v1/schedulers", "/v1/metrics", "/v1/alerts",
                     "/v1/silences", "/v1/channels", "/v1/audit", "/v1/operations"]:  # fmt: skip
            assert api.get(path).status_code == 200, path


def test_post_campaign_add_scheduled_campaign_creates_a_schedule(site: Site) -> None:
    body = {"name": "spring", "task": "campaign.step", "account": "acme", "cron": "0 9 * * MON",
            "timezone": "Europe/Paris", "kwargs": {"campaign_id": 7}, "quota": "emails",
            "rate_limit": "linkedin"}  # fmt: skip
    with site.api() as api:
        made = api.post("/campaign/addScheduledCampaign", json=body)
        assert made.status_code == 201, made.text
        assert made.json()["account"] == "acme" and made.json()["next_runs"]
        assert api.get("/v1/schedules/spring").json()["kwargs"]["account"] == "acme"


def test_bad_cron_unknown_zone_naive_datetime_unknown_task_oversized_unknown_field_4xx_nothing_written(  # noqa: E501
    site: Site,
) -> None:
    bad = [
        ("/v1/schedules", {"name": "b1", "task": "send", "spec": "61 * * * *"}, "body.spec"),
        ("/v1/schedules", {"name": "b2", "task": "send", "spec": "0 9 * * *", "tz": "Mars/X"},
         "body.tz"),
        ("/v1/jobs", {"task": "send", "at": "2030-01-01T00:00:00"}, "body.at"),
        ("/v1/jobs", {"task": "no-such-task"}, "body.task"),
        ("/v1/jobs", {"task": "send", "colour": "red"}, "body.colour"),
    ]  # fmt: skip
    with site.api() as api:
        before = api.get("/v1/queues").json()
        for path, body, field in bad:
            refused = api.post(path, json=body)
            assert 400 <= refused.status_code < 500, (path, body)
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert field in [e["field"] for e in refused.json()["errors"]], refused.text
        huge = api.post("/v1/jobs", content=b'{"task": "send", "kwargs": {"to": "' + b"x" * 2**21
                        + b'"}}', headers={"Content-Type": "application/json"})  # fmt: skip
        assert huge.status_code == 413 and huge.json()["status"] == 413
        assert api.get("/v1/queues").json() == before
        assert api.get("/v1/schedules/b1").status_code == 404


def test_idempotency_key_etag_if_match_and_opaque_cursors(site: Site) -> None:
    with site.api() as api:
        key = {"Idempotency-Key": uuid.uuid4().hex}
        first = api.post("/v1/jobs", json={"task": "send", "kwargs": {"to": "a"}}, headers=key)
        again = api.post("/v1/jobs", json={"task": "send", "kwargs": {"to": "a"}}, headers=key)
        assert first.status_code == 201 and again.json()["id"] == first.json()["id"]
        api.put("/v1/limits/partner", json={"rate": "10/m"})
        etag = api.get("/v1/limits/partner").headers["etag"]
        stale = api.put("/v1/limits/partner", json={"rate": "20/m"}, headers={"If-Match": '"x"'})
        assert stale.status_code == 412
        fresh = api.put("/v1/limits/partner", json={"rate": "20/m"}, headers={"If-Match": etag})
        assert fresh.status_code == 200 and fresh.headers["etag"] != etag
        for _ in range(3):
            api.post("/v1/silences", json={"rule": "queue_length", "duration": 60, "reason": "r"})
        page = api.get("/v1/audit", params={"limit": 1}).json()
        assert page["next_cursor"] and ":" not in page["next_cursor"]
        more = api.get("/v1/audit", params={"limit": 1, "cursor": page["next_cursor"]}).json()
        assert more["entries"] and more["entries"] != page["entries"]


def test_dead_letters_requeue_with_edited_payload_and_requeue_or_resolve_all_matching_202(
    site: Site,
) -> None:
    for url in ("http://x/1", "http://x/2"):
        made = run_cli(["enqueue", "fetch", "--kwargs", f'{{"url": "{url}"}}', "--app", APP],
                       site.redis_url, site.prefix)  # fmt: skip
        assert made.returncode == 0, made.stderr
    done = run_cli(["worker", APP, "--burst"], site.redis_url, site.prefix)
    assert done.returncode == 0, done.stderr
    with site.api() as api:
        dead = api.get("/v1/dead").json()
        ids = [j["id"] for j in (dead["jobs"] if isinstance(dead, dict) else dead)]
        assert len(ids) == 2
        assert api.get("/v1/dead/groups").status_code == 200
        edited = api.post(f"/v1/dead/{ids[0]}/requeue", json={"kwargs": {"url": "http://ok"}})
        assert edited.status_code == 200, edited.text
        assert api.get(f"/v1/jobs/{ids[0]}").json()["kwargs"] == {"url": "http://ok"}
        op = api.post("/v1/dead/operations", json={"kind": "resolve", "filter": "task:fetch"})
        assert op.status_code == 202 and op.headers["location"].startswith("/v1/operations/")
        assert api.get(op.headers["location"]).json()["kind"] == "resolve"
        op = api.post("/v1/dead/operations", json={"kind": "requeue", "filter": "task:fetch"})
        assert op.status_code == 202


def test_dashboard_login_with_a_token_and_every_view(site: Site) -> None:
    with httpx.Client(base_url=site.base, timeout=30, headers={"Origin": site.base}) as browser:
        assert browser.get("/").status_code in (302, 303, 307)
        login = browser.post("/login", data={"token": site.admin, "next": "/"})
        assert login.status_code == 303, login.text
        for view in ["/", "/jobs", "/jobs?filter=task:send%20-account:acme", "/failures",
                     "/dead", "/schedules", "/schedules/calendar", "/limits", "/quotas",
                     "/locks", "/workers", "/schedulers", "/health", "/metrics", "/alerts",
                     "/audit"]:  # fmt: skip
            shown = browser.get(view)
            assert shown.status_code == 200, view
            assert "script-src 'self'" in shown.headers["content-security-policy"]


def test_public_bind_without_credentials_is_refused(redis_url: str, prefix: str) -> None:
    refused = run_cli(["dashboard", "--host", "0.0.0.0", "--port", str(free_port())],
                      redis_url, prefix)  # fmt: skip
    assert refused.returncode != 0 and "tokens create" in refused.stderr


def test_429_with_retry_after(site: Site) -> None:
    with site.api() as api:
        for _ in range(200):
            answer = api.get("/v1/tasks")
            if answer.status_code == 429:
                assert float(answer.headers["retry-after"]) >= 1
                assert answer.headers["content-type"].startswith("application/problem+json")
                return
    raise AssertionError("never limited at 40/s")
