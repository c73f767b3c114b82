"""Schedules over HTTP: CRUD with ETag/If-Match, pause and resume with a reason,
trigger, backfill, next runs with DST marked, history, calendar, spec check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import redis

from chronoq import App
from tests.api.conftest import Tokens, assert_problem

DIGEST = {"name": "digest", "task": "send", "spec": "30 2 * * *", "tz": "Europe/Paris",
          "args": ["a@b.c"]}  # fmt: skip


async def test_create_read_update_delete_with_etags(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    op = tokens.header("operate")
    made = await http.post("/v1/schedules", json=DIGEST, headers=op)
    assert made.status_code == 201, made.text
    assert (
        made.headers["location"] == "/v1/schedules/digest" and made.json()["tz"] == "Europe/Paris"
    )
    assert_problem(await http.post("/v1/schedules", json=DIGEST, headers=op), 409)
    got = await http.get("/v1/schedules/digest", headers=tokens.header("read"))
    etag = got.headers["etag"]
    changed = await http.patch("/v1/schedules/digest", json={"spec": "0 9 * * *"},
                               headers={**op, "If-Match": etag})  # fmt: skip
    assert changed.status_code == 200 and changed.json()["spec"] == "0 9 * * *"
    stale = await http.patch("/v1/schedules/digest", json={"spec": "0 10 * * *"},
                             headers={**op, "If-Match": etag})  # fmt: skip
    assert_problem(stale, 412)
    assert [s["name"] for s in (await http.get("/v1/schedules", headers=op)).json()] == ["digest"]
    assert_problem(await http.delete("/v1/schedules/digest", headers={**op, "If-Match": etag}), 412)
    assert (await http.delete("/v1/schedules/digest", headers=op)).json()["status"] == "removed"
    assert_problem(await http.get("/v1/schedules/digest", headers=op), 404)
    async with app.backend() as backend:
        actions = [e.action for e in await backend.access.audit()]
    assert actions[:3] == ["schedules.delete", "schedules.update", "schedules.create"]


async def test_bad_schedules_name_the_field_and_store_nothing(
    http: httpx.AsyncClient, tokens: Tokens, raw: redis.Redis, prefix: str
) -> None:
    op = tokens.header("operate")
    cases = [
        ({**DIGEST, "spec": "61 * * * *"}, 422, "body.spec"),
        ({**DIGEST, "tz": "Mars/Olympus"}, 422, "body.tz"),
        ({**DIGEST, "task": "nope"}, 422, "body.task"),
        ({**DIGEST, "start": "2026-01-01T00:00:00"}, 422, "body.start"),  # naive
        ({**DIGEST, "colour": "red"}, 422, "body.colour"),
    ]
    for body, status, field in cases:
        assert_problem(await http.post("/v1/schedules", json=body, headers=op), status, field=field)
    assert not raw.exists(f"{prefix}:{{~sched}}:defs")
    assert_problem(
        await http.post("/v1/schedules", json=DIGEST, headers=tokens.header("read")), 403
    )


async def test_pause_resume_trigger_history_and_next_runs(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    op = tokens.header("operate")
    assert (await http.post("/v1/schedules", json=DIGEST, headers=op)).status_code == 201
    paused = await http.post("/v1/schedules/digest/pause", json={"reason": "freeze"}, headers=op)
    assert paused.json()["paused"] and paused.json()["pause_reason"] == "freeze"
    resumed = await http.post("/v1/schedules/digest/resume", headers=op)
    assert resumed.status_code == 200 and resumed.json()["pause_reason"] is None
    trig = await http.post("/v1/schedules/digest/trigger", headers={**op, "Idempotency-Key": "t1"})
    again = await http.post("/v1/schedules/digest/trigger", headers={**op, "Idempotency-Key": "t1"})
    assert trig.status_code == 201 and again.json()["id"] == trig.json()["id"]
    history = (await http.get("/v1/schedules/digest/history", headers=op)).json()
    assert [h["kind"] for h in history] == ["triggered", "resumed", "paused"]
    assert history[0]["status"] == "queued" and history[2]["by"] == "operate"
    url = "/v1/schedules/digest/next-runs"
    after = "2026-03-27T12:00:00+00:00"
    runs = await http.get(url, params={"count": 3, "after": after}, headers=op)
    assert [r["dst_change"] for r in runs.json()] == [None, "forward", None]
    naive = await http.get(url, params={"after": "2026-03-27T12:00:00"}, headers=op)
    assert_problem(naive, 422)


async def test_backfill_is_idempotent_per_run_time(http: httpx.AsyncClient, tokens: Tokens) -> None:
    op = tokens.header("operate")
    hourly = {"name": "hourly", "task": "send", "spec": "@hourly", "args": ["x"]}
    assert (await http.post("/v1/schedules", json=hourly, headers=op)).status_code == 201
    now = datetime.now(UTC)
    window = {"start": (now - timedelta(hours=3)).isoformat(), "end": now.isoformat()}
    first = (await http.post("/v1/schedules/hourly/backfill", json=window, headers=op)).json()
    second = (await http.post("/v1/schedules/hourly/backfill", json=window, headers=op)).json()
    assert first["enqueued"] == 3 and second["enqueued"] == 0 and second["existing"] == 3
    backwards = {"start": window["end"], "end": window["start"]}
    problem = await http.post("/v1/schedules/hourly/backfill", json=backwards, headers=op)
    assert_problem(problem, 422, field="body.end")


async def test_calendar_and_spec_check(http: httpx.AsyncClient, tokens: Tokens) -> None:
    read = tokens.header("read")
    await http.post("/v1/schedules", json=DIGEST, headers=tokens.header("operate"))
    cal = (await http.get("/v1/calendar", params={"tz": "Europe/Paris"}, headers=read)).json()
    assert len(cal["days"]) == 7 and all(d["runs"] == {"digest": 1} for d in cal["days"][1:])
    assert_problem(await http.get("/v1/calendar", params={"tz": "Nowhere/X"}, headers=read), 422)
    ok = await http.post("/v1/schedules/validate", json={"spec": "30 2 * * *", "tz": "Europe/Paris",
                         "after": "2026-03-27T12:00:00+00:00"}, headers=read)  # fmt: skip
    assert ok.json()["ok"] and ok.json()["next_runs"][1]["dst_change"] == "forward"
    bad = (
        await http.post("/v1/schedules/validate", json={"spec": "* 25 * * *"}, headers=read)
    ).json()
    assert not bad["ok"] and bad["error"]["field"] == "spec" and bad["error"]["part"] == "hour"
