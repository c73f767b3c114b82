"""Issue 10 (observe), command by command as the issue names them: a real worker
process (`chronoq worker --burst`) makes the history, then the operator commands
run against it (in-process through `chronoq.cli.main`, or as processes where the
issue implies one: `metrics serve`, `health` for probes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from chronoq.cli.main import main
from tests.acceptance.helpers import ROOT, free_port, run_cli, wait_for
from tests.cli.helpers import Cli
from tests.redis.private_servers import PrivateServer, new_server, private_servers

APP = "tests.acceptance.accept_app:app"


def worker_burst(redis_url: str, prefix: str) -> None:
    """A real worker process that runs every waiting job, then exits."""
    done = run_cli(["worker", APP, "--burst"], redis_url, prefix, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def shared_prefix(redis_url: str) -> Iterator[str]:
    """One history for the module (a worker process per test would cost seconds):
    the tests that change it come last, in file order."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    conn = redis.Redis.from_url(redis_url)
    keys = list(conn.scan_iter(match=f"{name}:*", count=1000))
    if keys:
        conn.delete(*keys)
    conn.close()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], redis_url: str, shared_prefix: str) -> Cli:
    return Cli(capsys, redis_url, shared_prefix)


@pytest.fixture(scope="module")
def history(redis_url: str, shared_prefix: str) -> dict[str, str]:
    """Jobs that succeeded, died of a network error (recoverable) and of a ValueError,
    one for an account; then a worker process ran them."""
    jobs = [
        ("sent", "send", '{"to": "a@b.c"}'),
        ("net1", "fetch", '{"url": "http://x/1"}'),
        ("net2", "fetch", '{"url": "http://x/2"}'),
        ("parse", "parse", '{"n": 5}'),
        ("acme", "campaign.step", '{"account": "acme", "campaign_id": 3}'),
    ]
    with ThreadPoolExecutor(len(jobs)) as pool:  # five processes at once
        made = pool.map(lambda j: run_cli(["enqueue", j[1], "--kwargs", j[2], "--app", APP],
                                          redis_url, shared_prefix), jobs)  # fmt: skip
        ids = {}
        for (name, _, _), done in zip(jobs, made, strict=True):
            assert done.returncode == 0, done.stderr
            ids[name] = done.stdout.split()[0]
    worker_burst(redis_url, shared_prefix)
    return ids


def test_chronoq_job_id_shows_the_whole_timeline(cli: Cli, history: dict[str, str]) -> None:
    shown = cli("job", history["net1"])
    assert shown.code == 0, shown.err
    assert (
        "timeline" in shown.out and "ConnectionError: connection reset by http://x/1" in shown.out
    )
    assert "Traceback" in shown.out
    record = cli("job", history["net1"], "--json").json()
    first = record["timeline"][0]
    assert (first["attempt"], first["outcome"], first["error_class"]) == (
        1,
        "dead",
        "ConnectionError",
    )
    for field in ("started_at", "finished_at", "duration", "worker", "traceback", "peak_memory"):
        assert first[field], field
    assert cli("job", "no-such-job").code != 0


def test_chronoq_jobs_filters(cli: Cli, history: dict[str, str]) -> None:
    def ids(*args: str) -> set[str]:
        return {j["id"] for j in cli("jobs", *args, "--json").json()["jobs"]}

    dead_fetch = ids("--task", "fetch", "--status", "dead", "--queue", "default",
                     "--since", "2h", "--limit", "10")  # fmt: skip
    assert dead_fetch == {history["net1"], history["net2"]}
    assert ids("--task", "fetch", "--error-contains", "x/2") == {history["net2"]}
    assert ids("--account", "acme") == {history["acme"]}
    assert ids("--task", "fetch", "--since", "2h", "--until", "1h") == set()
    assert len(ids("--task", "fetch", "--limit", "1")) == 1
    every = ["--task", "T", "--status", "dead", "--queue", "Q", "--account", "A", "--since",
             "2h", "--until", "1h", "--error-contains", "TEXT", "--limit", "5"]  # fmt: skip
    assert cli("jobs", *every).code == 0


def test_chronoq_dead_letters_lists_the_dead_letter_queue(
    cli: Cli, history: dict[str, str]
) -> None:
    dead = cli("dead-letters", "--json").json()
    found = {j["id"] for j in (dead["jobs"] if isinstance(dead, dict) else dead)}
    assert found == {history["net1"], history["net2"], history["parse"]}


def test_chronoq_metrics_hours_n(cli: Cli, history: dict[str, str]) -> None:
    text = cli("metrics", "--hours", "1")
    assert text.code == 0
    for word in ("fetch", "success", "throughput", "p50", "wait"):
        assert word in text.out, word
    data = cli("metrics", "--hours", "1", "--json").json()
    assert data["hours"] == 1.0 and data["total"]["counts"]["succeeded"] == 2


def test_chronoq_report_hours_n_as_text_json_and_one_html_file(
    cli: Cli, history: dict[str, str], tmp_path: Path
) -> None:
    text = cli("report", "--hours", "1").out
    for part in ("success rate", "throughput", "slowest tasks", "failure groups",
                 "lateness", "limits near their cap"):  # fmt: skip
        assert part in text, part
    data = cli("report", "--hours", "1", "--json").json()
    assert {"success_rate", "throughput", "slowest_tasks", "failure_groups",
            "schedule_lateness", "limits_near_cap"} <= set(data)  # fmt: skip
    page = tmp_path / "report.html"
    assert cli("report", "--hours", "1", "--html", str(page)).code == 0
    html = page.read_text()
    assert "<svg" in html and 'src="http' not in html and 'href="http' not in html


def test_chronoq_dlq_list_group_and_resolve_id_or_group_with_a_note(
    cli: Cli, history: dict[str, str]
) -> None:
    groups = cli("dlq", "list", "--group", "--json").json()
    by_task = {g["task"]: g for g in groups}
    assert by_task["fetch"]["count"] == 2 and by_task["fetch"]["error_class"] == "network"
    assert {"first_seen", "last_seen", "accounts"} <= set(by_task["fetch"])
    assert "fetch" in cli("dlq", "list", "--group").out
    fingerprint = by_task["parse"]["fingerprint"]
    resolved = cli("dlq", "resolve", "--group", fingerprint, "--note", "fixed in v2")
    assert resolved.code == 0 and "resolved" in resolved.out
    assert cli("dlq", "resolve", history["net1"], "--note", "handled").code == 0
    assert cli("dlq", "resolve", history["net2"]).code == 0
    after = {g["task"]: g for g in cli("dlq", "list", "--group", "--json").json()}
    assert after["parse"]["state"] == "resolved" and after["parse"]["note"] == "fixed in v2"
    assert cli("dlq", "resolve").code != 0  # neither ID nor --group


def test_requeue_from_the_dead_letter_queue_appears_in_order(
    cli: Cli, history: dict[str, str], redis_url: str, shared_prefix: str
) -> None:
    assert cli("dlq", "requeue", history["net1"]).code == 0
    worker_burst(redis_url, shared_prefix)
    out = cli("job", history["net1"]).out
    timeline = out[out.index("timeline") :]
    assert timeline.index("dead") < timeline.index("requeued") < timeline.rindex("dead")


def test_chronoq_process_dlq_requeues_only_recoverable_classes_and_says_what_it_did(
    cli: Cli, history: dict[str, str]
) -> None:
    done = cli("process-dlq")
    assert done.code == 0
    assert "requeued 2" in done.out and "network" in done.out and "left 1" in done.out
    left = cli("dead-letters", "--json").json()
    assert {j["id"] for j in (left["jobs"] if isinstance(left, dict) else left)} == {
        history["parse"]
    }


def test_chronoq_cleanup_days_n_trims_and_counts(cli: Cli, history: dict[str, str]) -> None:
    trimmed = cli("cleanup", "--days", "0", "--json").json()
    assert trimmed["trimmed"] == 2  # the two that succeeded; dead ones are kept
    assert cli("job", history["sent"]).code != 0
    assert cli("job", history["parse"]).code == 0
    assert "trimmed" in cli("cleanup", "--days", "7").out


@pytest.fixture
def servers() -> Iterator[list[PrivateServer]]:
    with private_servers() as started:
        yield started


def _health(capsys: pytest.CaptureFixture[str], url: str, prefix: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(["health", "--json", "--redis-url", url, "--prefix", prefix])
    return code, json.loads(capsys.readouterr().out)


def test_chronoq_health_exit_0_ok_1_warning_2_critical_and_json(
    servers: list[PrivateServer], prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    durable = new_server(servers)  # AOF, noeviction
    code, report = _health(capsys, durable.url, prefix)
    assert (code, report["status"], report["exit_code"]) == (0, "ok", 0)
    forgetful = new_server(servers, "--appendonly", "no")  # persists nothing: a warning
    code, report = _health(capsys, forgetful.url, prefix)
    assert (code, report["status"]) == (1, "warning")
    assert main(["enqueue", "send", "--force", "--redis-url", durable.url, "--prefix", prefix]) == 0
    code, report = _health(capsys, durable.url, prefix)  # waiting jobs, no consumer
    assert (code, report["status"]) == (2, "critical")
    evicting = new_server(servers, "--maxmemory-policy", "allkeys-lru")
    assert _health(capsys, evicting.url, prefix)[0] == 2


def test_chronoq_metrics_serve_host_port_serves_metrics(redis_url: str, prefix: str) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    command = [sys.executable, "-m", "chronoq", "metrics", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--redis-url", redis_url, "--prefix", prefix]  # fmt: skip
    served = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        body = wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2), served)
        assert body.status_code == 200 and body.headers["content-type"].startswith("text/plain")
        text = body.text
        assert "chronoq_build_info{" in text
        assert "# TYPE chronoq_jobs_total counter" in text
        assert "# TYPE chronoq_job_wait_seconds histogram" in text
        assert "# TYPE chronoq_job_run_seconds histogram" in text
        assert "job_id=" not in text and "worker=" not in text and "account=" not in text
    finally:
        served.terminate()
        served.communicate(timeout=30)


def test_chronoq_alerts_list_show_silence_unsilence_test(cli: Cli) -> None:
    rules = cli("alerts", "list", "--json").json()
    names = {r["name"] for r in rules["rules"]}
    assert {"success_rate", "queue_length", "no_consumers", "worker_memory"} <= names
    assert "threshold: 0.8" in cli("alerts", "show", "success_rate").out
    assert cli("alerts", "show", "no-such-rule").code != 0
    silenced = cli("alerts", "silence", "queue_length", "--for", "2h", "--reason", "maintenance")
    assert silenced.code == 0 and "silenced queue_length" in silenced.out
    assert cli("alerts", "list", "--json").json()["silences"]
    assert cli("alerts", "unsilence", "queue_length").code == 0
    assert not cli("alerts", "list", "--json").json()["silences"]
    assert cli("alerts", "test").code != 0  # no channel configured: said, not silent
