"""`chronoq metrics serve --host H --port P`: a real process scraped over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chronoq import App, Client
from tests.worker.helpers import running_worker, wait_until

ROOT = Path(__file__).resolve().parents[2]
BOUNDED = {"queue", "state", "version", "python"}


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, "", ""


async def test_metrics_serve_answers_a_real_http_client(
    app: App, client: Client, redis_url: str, prefix: str
) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-m", "chronoq", "metrics", "serve", "--host", "127.0.0.1"]
    command += ["--port", "0", "--redis-url", redis_url, "--prefix", prefix]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)  # noqa: ASYNC220
    try:
        assert process.stderr is not None
        line = await asyncio.to_thread(process.stderr.readline)
        assert line.startswith("chronoq metrics on http://127.0.0.1:"), line
        url = line.split()[-1]
        async with running_worker(app, queues="mail,other", heartbeat=0.2) as worker:
            await wait_until(lambda: _worker_seen(client))
            status, content_type, text = await asyncio.to_thread(get, url)
        assert status == 200
        assert content_type.startswith("text/plain; version=0.0.4")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["chronoq_jobs"].type == "counter"
        assert families["chronoq_queue_oldest_waiting_seconds"].type == "gauge"
        for family in families.values():
            for sample in family.samples:
                assert set(sample.labels) <= BOUNDED, sample
                assert not any(worker.id in v for v in sample.labels.values())
        workers = {s.labels["queue"]: s.value for s in families["chronoq_queue_workers"].samples}
        assert workers == {"mail": 1, "other": 1}
        assert families["chronoq_redis_up"].samples[0].value == 1
        assert (await asyncio.to_thread(get, url.replace("/metrics", "/nope")))[0] == 404
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 10)
        if process.stderr is not None:
            process.stderr.close()
    assert code == 0


async def _worker_seen(client: Client) -> bool:
    return any(w.alive for w in (await client.backend.snapshots.read()).workers)


@pytest.mark.parametrize("port", ["-1", "x"])
def test_a_bad_port_is_one_line(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    from chronoq.cli.main import main

    assert main(["metrics", "serve", "--port", port]) == 2
    assert capsys.readouterr().err.startswith("chronoq: error: ")
