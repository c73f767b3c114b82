"""Every ```python block of the README runs as written, and its first command
starts from nothing.

Each block runs in a fresh Python process (`python -W error`) against the test
Redis, with `CHRONOQ_REDIS_URL` and `CHRONOQ_PREFIX` in its environment as a
reader's shell would set them, in a directory of its own. A block whose first line
is `# NAME.py` is a module: it is written to NAME.py there, so that later blocks
import it (`from myapp import app, ...`) as the README's prose says; a test writes
every module block above its own. A module block runs as `python NAME.py`, any
other as a script of its own. A block that imports `app` from a module block runs
while a worker of that app serves its queues (the README says to start workers
before enqueueing), stopped gracefully afterwards.

A block fails its test if it exits non-zero, if it uses a name it never defines
(inside function bodies too, which running does not reach), if a value it shows as
printed (`print(...)  # -> "sent"`) is not in its output, or if a job it made
ended dead.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
import signal
import subprocess
import symtable
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from chronoq import App, JobStatus

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"^```(\w*)\s*$")
MODULE_LINE = re.compile(r"#\s*(\w+)\.py")
# `print(x)  # -> "sent"` (a string, printed without its quotes) or `# -> 90` (as printed)
SHOWN_OUTPUT = re.compile(r"print\(.*#\s*->\s*(?:\"([^\"]*)\"|(.+?))\s*$")
RUN_TIMEOUT = 40.0  # longer than the tour's own 30 s wait for a result, so its error shows
STOP_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced code block: its language, the heading it sits under, its text."""

    lang: str
    heading: str
    line: int
    source: str

    @property
    def module(self) -> str | None:
        """NAME when the block's first line is `# NAME.py`."""
        first = self.source.split("\n", 1)[0].strip()
        match = MODULE_LINE.fullmatch(first)
        return match.group(1) if match else None


def fenced_blocks(text: str) -> list[Block]:
    """The README's fenced blocks, in order, each with the heading above it."""
    blocks: list[Block] = []
    heading, start = "", 0
    lang: str | None = None  # the open block's language, None outside a block
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line)
        if lang is None:
            if fence:
                lang, start, body = fence.group(1), number, []
            elif line.startswith("#"):
                heading = line.lstrip("#").strip()
        elif fence and not fence.group(1):
            blocks.append(Block(lang, heading, start, "\n".join(body) + "\n"))
            lang = None
        else:
            body.append(line)
    assert lang is None, f"README.md: the block opened on line {start} is never closed"
    return blocks


PYTHON = [block for block in fenced_blocks(README) if block.lang == "python"]


def _test_id(block: Block) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", block.heading.lower()).strip("-")
    return f"line{block.line}-{slug}"


def undefined_names(source: str) -> set[str]:
    """Names the block reads at module level or as globals of its functions that it
    neither assigns, defines nor imports, and that are not builtins."""
    top = symtable.symtable(source, "snippet", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    used: set[str] = set()

    def walk(table: symtable.SymbolTable) -> None:
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table is top or symbol.is_global()):
                used.add(symbol.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    return used - defined - set(dir(builtins))


def imported_apps(source: str, modules: dict[str, str]) -> list[str]:
    """The module blocks this block takes `app` from: their workers must run."""
    return [
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
        and node.module in modules
        and any(alias.name == "app" for alias in node.names)
    ]


@dataclass(slots=True)
class WorkerRun:
    """What a worker started for a block did: its exit status and its log."""

    module: str
    returncode: int | None = None
    output: str = ""

    def check(self) -> None:
        what = f"the worker of {self.module}:app"
        assert self.returncode == 0, f"{what} exited {self.returncode}:\n{self.output}"
        assert "Traceback" not in self.output, f"{what} logged a traceback:\n{self.output}"


@contextmanager
def workers(modules: list[str], cwd: Path, env: dict[str, str]) -> Iterator[list[WorkerRun]]:
    """`chronoq worker MODULE:app` (every queue of the app) for each module while the
    block runs; SIGTERM then lets each finish its running jobs and exit."""
    runs = [WorkerRun(module) for module in modules]
    command = [sys.executable, "-W", "error", "-m", "chronoq", "worker"]
    processes = []
    for run in runs:
        with (cwd / f"worker-{run.module}.log").open("w") as log:  # a file never fills up
            processes.append(
                subprocess.Popen(
                    [*command, f"{run.module}:app"],
                    cwd=cwd,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        yield runs
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for run, process in zip(runs, processes, strict=True):
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            run.returncode = process.returncode
            run.output = (cwd / f"worker-{run.module}.log").read_text()


def test_the_readme_has_python_blocks_and_module_names_are_unique() -> None:
    assert len(PYTHON) >= 6, "the README lost its python blocks?"
    modules = [block.module for block in PYTHON if block.module]
    assert len(modules) == len(set(modules)), modules


@pytest.mark.parametrize("block", PYTHON, ids=_test_id)
def test_readme_python_block_runs(
    block: Block, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    where = f"README.md line {block.line} ({block.heading})"
    missing = undefined_names(block.source)
    assert not missing, f"{where} uses names it never defines: {sorted(missing)}"

    modules = {b.module: b.source for b in PYTHON[: PYTHON.index(block) + 1] if b.module}
    for name, source in modules.items():
        (tmp_path / f"{name}.py").write_text(source)
    script = tmp_path / (f"{block.module}.py" if block.module else "snippet.py")
    script.write_text(block.source)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHRONOQ_")}
    env |= {
        "CHRONOQ_REDIS_URL": redis_url,
        "CHRONOQ_PREFIX": prefix,
        "CHRONOQ_DATA_DIR": str(tmp_path / "data"),  # never the reader's ~/.chronoq
        "PYTHONPATH": os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")]),
    }

    with workers(imported_apps(block.source, modules), tmp_path, env) as started:
        run = subprocess.run(
            [sys.executable, "-W", "error", script.name],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    assert run.returncode == 0, f"{where} failed:\n{run.stdout}\n{run.stderr}"
    for worker_run in started:
        worker_run.check()
    matches = [SHOWN_OUTPUT.search(line) for line in block.source.splitlines()]
    shown = [m.group(1) if m.group(1) is not None else m.group(2) for m in matches if m]
    for value in shown:
        assert value in run.stdout.splitlines(), f"{where} should print {value!r}: {run.stdout!r}"

    with App("readme-check", redis_url=redis_url, prefix=prefix).sync_client() as client:
        dead = client.jobs(status=JobStatus.DEAD)
    assert not dead, f"{where} made dead jobs: {[(j.task, j.error) for j in dead]}"


def test_the_first_command_starts_from_nothing() -> None:
    """A fresh machine: two commands. Clone, install and run the main job; then the
    tests."""
    first = fenced_blocks(README)[0]
    assert first.lang == "bash"
    lines = [line.split("#")[0].strip() for line in first.source.splitlines()]
    assert lines == [
        "git clone https://github.com/chronoq/chronoq && cd chronoq && pip install -e . "
        "&& chronoq up",
        'pip install -e ".[dev]" && python -m pytest',
    ]
