"""`chronoq worker --log-format text|json` and `chronoq up`: one line per job outcome,
from real processes; and the JSON formatter's stable field names."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

from chronoq import App
from chronoq.cli.logs import JsonFormatter
from chronoq.client import JobRequest
from tests.cli.helpers import Cli


def run_burst_worker(redis_url: str, prefix: str, log_format: str) -> str:
    """Enqueue one success and one dead job, drain them with a --burst worker process,
    return what it logged."""
    app = App("logs", redis_url=redis_url, prefix=prefix)
    with app.sync_client() as client:
        ok = client.submit(JobRequest("tests.sample_app.add", [2, 3], force=True))
        dead = client.submit(JobRequest("tests.sample_app.boom", ["kaput"], force=True))
    command = [sys.executable, "-m", "chronoq", "worker", "tests.sample_app:app", "--burst"]
    command += ["--redis-url", redis_url, "--prefix", prefix, "--log-format", log_format]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=30, env={**os.environ}, check=False
    )
    assert done.returncode == 0, done.stderr
    assert ok.id in done.stderr and dead.id in done.stderr, done.stderr
    return done.stderr


def test_a_worker_process_logs_each_outcome_as_text(redis_url: str, prefix: str) -> None:
    err = run_burst_worker(redis_url, prefix, "text")
    (ok,) = [line for line in err.splitlines() if "succeeded in" in line]
    assert " INFO chronoq.jobs: job " in ok and "tests.sample_app.add succeeded" in ok
    (failed,) = [line for line in err.splitlines() if "attempt 1/1 failed" in line]
    assert " WARNING chronoq.jobs: " in failed and "RuntimeError: kaput" in failed
    assert " ERROR chronoq.jobs: " in err and "Traceback (most recent call last)" in err


def test_a_worker_process_logs_each_outcome_as_json(redis_url: str, prefix: str) -> None:
    err = run_burst_worker(redis_url, prefix, "json")
    entries = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert all({"ts", "level", "logger", "message"} <= set(e) for e in entries)
    by_event = {e.get("event"): e for e in entries if e["logger"] == "chronoq.jobs"}
    ok = by_event["succeeded"]
    assert ok["level"] == "INFO" and ok["task"] == "tests.sample_app.add"
    assert ok["queue"] == "default" and ok["attempt"] == 1 and ok["duration_ms"] >= 0
    assert ok["ts"].endswith("+00:00")
    failed, dead = by_event["failed"], by_event["dead"]
    assert failed["level"] == "WARNING" and failed["error"] == "RuntimeError: kaput"
    assert dead["level"] == "ERROR" and dead["job_id"] == failed["job_id"]
    assert "Traceback" in dead["message"]


def test_chronoq_up_prints_a_line_per_job_outcome(redis_url: str, prefix: str) -> None:
    """The main job (`chronoq up`, its worker in-process) logs each outcome too."""
    app = App("logs", redis_url=redis_url, prefix=prefix)
    command = [sys.executable, "-m", "chronoq", "up", "tests.sample_app:app"]
    command += ["--redis-url", redis_url, "--prefix", prefix, "--concurrency", "4"]
    command += ["--no-dashboard"]  # about the workers' lines (tests/cli/test_dashboard.py)
    up = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        with app.sync_client() as client:
            ok = client.submit(JobRequest("tests.sample_app.add", [2, 3], force=True))
            dead = client.submit(JobRequest("tests.sample_app.boom", ["kaput"], force=True))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (
                client.job(ok.id).status.is_finished and client.job(dead.id).status.is_finished
            ):
                time.sleep(0.05)
    finally:
        up.send_signal(signal.SIGTERM)
        _, err = up.communicate(timeout=30)
    assert up.returncode == 0, err
    lines = err.splitlines()
    assert [line for line in lines if f"job {ok.id} tests.sample_app.add succeeded" in line]
    assert [line for line in lines if f"job {dead.id} " in line and " WARNING " in line]
    assert [line for line in lines if f"job {dead.id} " in line and " ERROR " in line]


def test_the_json_formatter_keeps_only_the_fields_a_record_has() -> None:
    record = logging.LogRecord("chronoq.jobs", logging.INFO, "x.py", 1, "job %s", ("a",), None)
    record.job_id, record.attempt = "a", 2
    entry = json.loads(JsonFormatter().format(record))
    assert entry.keys() == {"ts", "level", "logger", "message", "job_id", "attempt"}
    assert entry["message"] == "job a"


def test_a_bad_log_format_is_one_line(cli: Cli) -> None:
    result = cli("worker", "tests.sample_app:app", "--burst", "--log-format", "xml")
    assert result.code == 2
    assert "unknown log format 'xml'; choose text or json" in result.err
