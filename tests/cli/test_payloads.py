"""Payloads on the command line: --args from a file or stdin, size and depth limits
as one-line errors, large values clipped in tables and written out whole in --json."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
import redis

from chronoq.redis.keys import Keyspace, QueueKeys
from tests.cli.helpers import Cli, Result


def keys(cli: Cli) -> QueueKeys:
    return Keyspace(cli.prefix).queue("default")


def one_line_error(result: Result, text: str) -> None:
    assert result.code == 2, result
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    assert result.err.startswith("chronoq: error: ") and text in result.err, result.err


def test_args_and_kwargs_from_a_file_and_from_stdin(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args_file = tmp_path / "args.json"
    args_file.write_text('[1, "two", {"three": 3}]', encoding="utf-8")
    made = cli("enqueue", "--force", "t", "--args", f"@{args_file}", "--json").json()
    assert cli("job", made["id"], "--json").json()["args"] == [1, "two", {"three": 3}]

    monkeypatch.setattr("sys.stdin", io.StringIO('{"name": "from stdin"}'))
    made = cli("enqueue", "--force", "t", "--args", "[7]", "--kwargs", "-", "--json").json()
    shown = cli("job", made["id"], "--json").json()
    assert (shown["args"], shown["kwargs"]) == ([7], {"name": "from stdin"})

    monkeypatch.setattr("sys.stdin", io.StringIO("[[1], [2]]"))
    made = cli("enqueue", "--force", "t", "--args", "-", "--json").json()
    assert cli("job", made["id"], "--json").json()["args"] == [[1], [2]]


def test_bad_argument_sources_are_one_line_errors(cli: Cli, tmp_path: Path) -> None:
    one_line_error(
        cli("enqueue", "--force", "t", "--args", f"@{tmp_path}/missing.json"), "cannot read"
    )
    (tmp_path / "obj.json").write_text('{"a": 1}', encoding="utf-8")
    one_line_error(
        cli("enqueue", "--force", "t", "--args", f"@{tmp_path}/obj.json"), "must be an array"
    )
    both = cli("enqueue", "--force", "t", "--args", "-", "--kwargs", "-")
    one_line_error(both, "only one of --args and --kwargs can be read from stdin")


def test_arguments_nested_1000_deep_are_refused_in_one_line(cli: Cli, tmp_path: Path) -> None:
    deep = "[" * 1000 + "]" * 1000
    one_line_error(
        cli("enqueue", "--force", "t", "--args", deep), "--args nested deeper than 100 levels"
    )
    (tmp_path / "deep.json").write_text(f'{{"a": {deep}}}', encoding="utf-8")
    shown = cli("enqueue", "--force", "t", "--kwargs", f"@{tmp_path}/deep.json")
    one_line_error(shown, "--kwargs nested deeper than 100 levels")


def test_arguments_over_the_size_limit_are_refused_naming_size_and_limit(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps(["x" * (2 * 1024 * 1024)]), encoding="utf-8")
    shown = cli("enqueue", "--force", "t", "--args", f"@{big}")
    one_line_error(shown, "job arguments take 2,097,158 bytes of JSON")
    assert "over the limit of 1,048,576 bytes (CHRONOQ_MAX_PAYLOAD_BYTES)" in shown.err
    assert cli("jobs", "--json").json() == []  # nothing was written
    monkeypatch.setenv("CHRONOQ_MAX_PAYLOAD_BYTES", "100")
    one_line_error(
        cli("enqueue", "--force", "t", "--args", json.dumps(["y" * 200])), "limit of 100 bytes"
    )
    assert cli("enqueue", "--force", "t", "--args", '["small"]').code == 0


def test_a_50_mb_result_is_clipped_in_the_table_and_written_whole_as_json(
    cli: Cli, raw: redis.Redis
) -> None:
    job_id = cli("enqueue", "--force", "t", "--json").json()["id"]
    q = keys(cli)
    raw.hset(q.job(job_id), mapping={"status": "succeeded", "err": "E" * 100_000})
    result = json.dumps(["x" * 1000] * 50_000)  # 50 MB
    raw.set(q.result(job_id), result)
    started = time.process_time()  # CPU, not wall time: the box may be busy elsewhere
    shown = cli("job", job_id)
    assert shown.code == 0 and len(shown.out) < 20_000
    assert "characters in all; --json shows them" in shown.out
    as_json = cli("job", job_id, "--json")
    assert time.process_time() - started < 20
    assert as_json.code == 0 and len(as_json.out) > 50_000_000
    assert as_json.json()["result"] == ["x" * 1000] * 50_000


def test_dlq_show_json_on_a_deeply_nested_result_prints_one_line(
    cli: Cli, raw: redis.Redis
) -> None:
    job_id = cli("enqueue", "--force", "t", "--json").json()["id"]
    q = keys(cli)
    raw.hset(q.job(job_id), "status", "dead")
    raw.zadd(q.dead, {job_id: 1})
    nested = "[" * 99 + "]" * 99  # within the limit: shown
    raw.set(q.result(job_id), nested)
    assert cli("dlq", "show", job_id, "--json").json()["id"] == job_id
    raw.set(q.result(job_id), "[" * 5000 + "]" * 5000)  # another client wrote this
    for args in (("dlq", "show", job_id, "--json"), ("dlq", "show", job_id)):
        one_line_error(cli(*args), "result nested deeper than 100 levels")
