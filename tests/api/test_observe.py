"""Metrics, the health report, alerts with rules, silences and channels (secrets
redacted, ETag/If-Match on edits), and the audit log in pages."""

from __future__ import annotations

import httpx

from chronoq import Client
from tests.api.conftest import Tokens, assert_problem
from tests.observe.history import run_jobs


async def test_metrics_and_health(http: httpx.AsyncClient, tokens: Tokens, client: Client) -> None:
    await run_jobs(client, "send", 2)
    read = tokens.header("read")
    window = (await http.get("/v1/metrics?hours=2", headers=read)).json()
    assert window["hours"] == 2 and "total" in window
    assert_problem(await http.get("/v1/metrics?hours=0", headers=read), 422, field="query.hours")
    assert "queues" in (await http.get("/v1/metrics/now", headers=read)).json()
    report = (await http.get("/v1/health", headers=read)).json()
    assert {c["name"] for c in report["checks"]} >= {"redis", "queues", "alerts"}
    queues = (await http.get("/v1/queues", headers=read)).json()
    assert [q["queue"] for q in queues] == ["default"] and queues[0]["finished"] == 2
    assert_problem(await http.get("/v1/queues/nope", headers=read), 404)
    tasks = {t["name"]: t for t in (await http.get("/v1/tasks", headers=read)).json()}
    assert tasks["send"]["queue"] == "mail" and tasks["send"]["in_app"]
    assert_problem(await http.get("/v1/tasks/nope", headers=read), 404)


async def test_rules_silences_and_channels(http: httpx.AsyncClient, tokens: Tokens) -> None:
    read, operate, admin = (tokens.header(r) for r in ("read", "operate", "admin"))
    rule = await http.get("/v1/alerts/rules/queue_length", headers=read)
    etag = rule.headers["etag"]
    changed = await http.put("/v1/alerts/rules/queue_length", headers={**admin, "If-Match": etag},
                             json={"kind": "queue_length", "threshold": 5})  # fmt: skip
    assert changed.json()["threshold"] == 5
    stale = await http.put("/v1/alerts/rules/queue_length", headers={**admin, "If-Match": etag},
                           json={"kind": "queue_length", "threshold": 6})  # fmt: skip
    assert_problem(stale, 412)
    bad = await http.put("/v1/alerts/rules/x", headers=admin, json={"kind": "nope"})
    assert_problem(bad, 422, field="body.kind")

    quiet = {"rule": "queue_length", "duration": 600, "reason": "deploy"}
    silenced = await http.post("/v1/silences", headers=operate, json=quiet)
    assert silenced.status_code == 201 and silenced.json()["reason"] == "deploy"
    unknown = await http.post("/v1/silences", headers=operate,
                              json={"rule": "nope", "duration": 60, "reason": "x"})  # fmt: skip
    assert_problem(unknown, 422, field="body.rule")
    assert [s["rule"] for s in (await http.get("/v1/silences", headers=read)).json()] == [
        "queue_length"
    ]
    assert (await http.delete("/v1/silences/queue_length", headers=operate)).status_code == 200

    hook = {"kind": "webhook", "url": "https://hooks.example/x", "secret": "s3cret"}
    made = await http.put("/v1/channels/ops", headers=admin, json=hook)
    assert made.json()["secret"] == "***"
    listed = (await http.get("/v1/channels", headers=read)).json()
    assert listed == [made.json()] and "s3cret" not in str(listed)
    seen = await http.get("/v1/channels/ops", headers=read)
    assert_problem(await http.delete("/v1/channels/ops", headers={**admin, "If-Match": '"x"'}), 412)
    gone = await http.delete(
        "/v1/channels/ops", headers={**admin, "If-Match": seen.headers["etag"]}
    )
    assert gone.json()["status"] == "removed"
    not_http = await http.put("/v1/channels/ops", headers=admin, json={**hook, "url": "ftp://x"})
    assert_problem(not_http, 422)
    overview = (await http.get("/v1/alerts", headers=read)).json()
    assert {"rules", "states", "silences"} <= set(overview)


async def test_the_audit_log_in_pages(http: httpx.AsyncClient, tokens: Tokens) -> None:
    operate = tokens.header("operate")
    for n in range(3):
        await http.post("/v1/jobs", json={"task": "send", "args": [f"{n}@x"]}, headers=operate)
    first = (await http.get("/v1/audit?limit=2", headers=operate)).json()
    assert [e["actor"] for e in first["entries"]] == ["operate", "operate"]
    rest = (
        await http.get(f"/v1/audit?limit=2&cursor={first['next_cursor']}", headers=operate)
    ).json()
    assert len(rest["entries"]) == 1 and rest["next_cursor"] is None
    assert_problem(
        await http.get("/v1/audit?cursor=abc", headers=operate), 422, field="query.cursor"
    )
