"""`chronoq jobs` searching the history, `dlq list --group`, `dlq resolve` and
`process-dlq`, on jobs a real worker ran (its classes and groups)."""

from __future__ import annotations

import json
from typing import Any

from tests.cli.helpers import Cli

APP = "tests.observe_app:app"
T = "tests.observe_app."


def enqueue(cli: Cli, task: str, *args: Any) -> str:
    made = cli("enqueue", "--app", APP, T + task, "--args", json.dumps(args), "--json").json()
    return str(made["id"])


def groups_by_task(cli: Cli) -> dict[str, dict[str, Any]]:
    return {g["task"]: g for g in cli("dlq", "list", "--group", "--json").json()}


def test_search_groups_resolve_and_process_dlq(cli: Cli) -> None:
    flaky = [enqueue(cli, "flaky", acct, n) for acct, n in (("acme", 1), ("acme", 2), ("beta", 3))]
    parse = [enqueue(cli, "parse", "acme", n) for n in (1, 2)]
    quota = enqueue(cli, "quota", 5)
    fine = [enqueue(cli, "fine", n) for n in range(3)]
    assert cli("worker", APP, "--burst").code == 0

    # Search: filters alone and together, pages with a cursor.
    dead_acme = cli(
        "jobs", "--task", T + "flaky", "--status", "dead", "--account", "acme",
        "--since", "1h", "--json",
    ).json()  # fmt: skip
    assert {j["id"] for j in dead_acme["jobs"]} == set(flaky[:2])
    assert dead_acme["jobs"][0]["error_class"] == "network"
    ok = cli("jobs", "--status", "succeeded", "--since", "1h", "--json").json()
    assert {j["id"] for j in ok["jobs"]} == set(fine)
    assert cli("jobs", "--until", "1h", "--json").json()["jobs"] == []
    # The shared filter grammar, with negation, alone and beside the flags.
    beta = cli("jobs", "--filter", f"task:{T}flaky -account:acme", "--json").json()
    assert [j["id"] for j in beta["jobs"]] == [flaky[2]]
    not_fine = cli("jobs", "--status", "dead", "--filter", f"-task:{T}flaky", "--json").json()
    assert {j["id"] for j in not_fine["jobs"]} == {*parse, quota}
    twice = cli("jobs", "--task", "x", "--filter", "task:y")
    assert twice.code == 2 and "task is given twice" in twice.err
    first = cli("jobs", "--error-contains", "BAD ROW", "--limit", "1", "--json").json()
    assert len(first["jobs"]) == 1 and first["next_cursor"]
    rest = cli("jobs", "--error-contains", "BAD ROW", "--cursor", first["next_cursor"], "--json")
    assert {j["id"] for j in first["jobs"] + rest.json()["jobs"]} == set(parse)
    table = cli("jobs", "--task", T + "parse", "--limit", "1")
    assert table.code == 0 and "more: --cursor " in table.out
    bad = cli("jobs", "--since", "yesterday")
    assert bad.code == 2 and bad.err.count("\n") == 1 and "neither a duration" in bad.err

    # Groups: one per task here (messages differ only in masked numbers).
    groups = groups_by_task(cli)
    assert set(groups) == {T + "flaky", T + "parse", T + "quota"}
    g = groups[T + "flaky"]
    assert (g["error_class"], g["count"], g["dead"], g["state"]) == ("network", 3, 3, "open")
    assert sorted(g["accounts"]) == ["acme", "beta"] and g["account_count"] == 2
    assert g["title"] == "ConnectionError: refused by <n> after <n> tries"
    assert g["first_seen"] <= g["last_seen"]
    assert groups[T + "parse"]["error_class"] == "parse"
    assert groups[T + "quota"]["error_class"] == "timeout"  # the app's own rule
    shown = cli("dlq", "list", "--group")
    assert shown.code == 0 and g["fingerprint"] in shown.out and "network" in shown.out

    # Resolve a group and a job; a new failure reopens the group.
    fp = groups[T + "parse"]["fingerprint"]
    assert cli("dlq", "resolve", "--group", fp, "--note", "bad export", "--json").json() == {
        "group": fp, "resolved": True, "note": "bad export",
    }  # fmt: skip
    assert groups_by_task(cli)[T + "parse"]["state"] == "resolved"
    assert groups_by_task(cli)[T + "parse"]["note"] == "bad export"
    assert cli("dlq", "resolve", parse[0], "--note", "ignored").code == 0
    job = cli("job", parse[0], "--json").json()
    assert job["resolved_at"] and job["resolution"] == "ignored"
    assert cli("dlq", "resolve", fine[0]).code == 1  # not dead
    assert cli("dlq", "resolve", "--group", "0123456789abcdef").code == 2
    assert cli("dlq", "resolve").code == 2
    enqueue(cli, "parse", "acme", 9)
    assert cli("worker", APP, "--burst").code == 0
    assert groups_by_task(cli)[T + "parse"]["state"] == "open"

    # process-dlq: network and timeout requeued, parse left; --dry-run changes nothing.
    dry = cli("process-dlq", "--app", APP, "--dry-run", "--json").json()
    assert (dry["requeued"], dry["left"], dry["dry_run"]) == (4, 3, True)
    assert dry["requeued_by_class"] == {"network": 3, "timeout": 1}
    assert dry["left_by_class"] == {"parse": 3}
    assert cli("job", quota, "--json").json()["status"] == "dead"
    done = cli("process-dlq", "--app", APP)
    assert done.code == 0, done.err
    assert "requeued 4 dead job(s) (network 3, timeout 1); left 3 (parse 3)" in done.out
    for job_id in [*flaky, quota]:
        assert cli("job", job_id, "--json").json()["status"] == "queued"
    assert cli("job", parse[1], "--json").json()["status"] == "dead"
    assert groups_by_task(cli)[T + "flaky"]["dead"] == 0
    only_parse = cli("process-dlq", "--class", "parse", "--json").json()
    assert only_parse["requeued_by_class"] == {"parse": 3}
    assert cli("process-dlq", "--class", "nope").code == 2
