"""Issue 12's campaign bar: 10,000 recipients across 100 accounts, the time to plan
their sends, and Redis memory per recipient.

    PYTHONPATH=src /work/venv/bin/python bench/campaigns/plan.py [--repeats 7] [--seed 1]

Plan: `chronoq.campaigns.pacing.plan` for each of 100 accounts (100 recipients
each, seeded zones and domains), all 100 plans timed together; the median (and
min, max) of `--repeats` rounds. Also one account of 10,000 recipients.

Memory: bench/campaigns/memory.py (its docstring): 100 real campaigns created,
their runs started and their recipients enrolled, fanned out, enqueued, granted
and marked through the real code on a private redis-server, used_memory per phase.

Writes bench/campaigns/results.json and RESULTS.md (`--out` to change).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from memory import measure_memory

from chronoq.campaigns.pacing import Pacing, Warmup, plan

HERE = Path(__file__).resolve().parent
ACCOUNTS, PER_ACCOUNT = 100, 100
ZONES = ["America/New_York", "Europe/London", "Australia/Adelaide", "Asia/Kolkata",
         "America/Los_Angeles", "Europe/Paris", None]  # fmt: skip
ACCOUNT_ZONES = ["Europe/Paris", "America/New_York", "Asia/Kolkata", "UTC"]
PACING = Pacing(windows=["mon-fri 09:00-17:00"], per_day=50, per_domain_per_day=10,
                warmup=Warmup(start=20, step=10))  # fmt: skip
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday
PLAN_CLOCK = START - timedelta(weeks=52)  # the memory run's plan clock: a Tuesday 08:00 UTC


@dataclass(frozen=True)
class Person:
    email: str
    zone: str | None
    name: str


def people(seed: int) -> list[tuple[str, str, list[Person]]]:
    """(account, its zone, its recipients) x 100, seeded."""
    rng = random.Random(seed)
    domains = [f"d{n}.example" for n in range(200)] + ["gmail.com"] * 20
    out = []
    for a in range(ACCOUNTS):
        found = [Person(f"person{a}.{i}@{rng.choice(domains)}", rng.choice(ZONES),
                        f"Person {a}.{i}") for i in range(PER_ACCOUNT)]  # fmt: skip
        out.append((f"acct{a}@sender.example", rng.choice(ACCOUNT_ZONES), found))
    return out


def time_plans(accounts: list[tuple[str, str, list[Person]]], repeats: int) -> dict[str, Any]:
    start_ms = int(START.timestamp() * 1000)
    rounds = []
    for _ in range(repeats):
        began = time.perf_counter()
        for _, zone, found in accounts:
            plan(PACING, zone, found, start_ms)
        rounds.append(time.perf_counter() - began)
    everyone = [p for _, _, found in accounts for p in found]
    single = []
    for _ in range(max(3, repeats // 2)):
        began = time.perf_counter()
        slots = plan(PACING, "Europe/Paris", everyone, start_ms)
        single.append(time.perf_counter() - began)
    days = len({s.local_day for s in slots})
    return {
        "plan_100x100_s": {"median": statistics.median(rounds), "min": min(rounds),
                           "max": max(rounds), "rounds": rounds},
        "plan_1x10000_s": {"median": statistics.median(single), "min": min(single),
                           "max": max(single), "rounds": single, "sending_days": days},
    }  # fmt: skip


HAND_WRITTEN = {
    "enrolment": 163.4,
    "fan_out_nodes": 372.0,
    "grant_counters": 129.3,
    "step_marks": 155.8,
    "total": 820.5,
}  # bench/campaigns/RESULTS.md at 79db39d
PHASES = [
    ("create", "create: `Campaigns.create` (record with the spec and its recipients, schedule)"),
    ("run_start", "run start: `runner.start_run` (run entry, workflow, enroll node and job)"),
    ("enrolment", "enrolment: `runner.enroll_recipients` (`{cmp:<name>}:recipients`)"),
    ("enroll_result", "enroll result: `WorkflowStore.finish` (the planned list on node 0)"),
    ("fan_out_nodes", "fan-out nodes: `Workflows._open_next` (one node per recipient)"),
    ("send_jobs", "send jobs: `Workflows.settle` (release, enqueue: job records etc.)"),
    ("grant_counters", "grant counters: `grant` (cmp_grant.lua day HASH, ids SET, first day)"),
    ("step_marks", "step marks: `step_begin` + `step_end` (`{cmp:<name>}:marks`)"),
]


def memory_rows(m: dict[str, Any]) -> list[str]:
    per, total = m["bytes_per_recipient"], m["recipients"]
    rows = []
    for key, label in PHASES:
        rows.append(f"| {label} | {per[key]} | {HAND_WRITTEN.get(key, 'not measured')} |")
        if key == "send_jobs":
            growth = m["send_jobs_node_growth_bytes"] / total
            rows.append(f"| &nbsp;&nbsp;of which the nodes' growth (job id, queue, released) |"
                        f" {growth:.1f} | |")  # fmt: skip
    without = round(m["total_bytes_per_recipient"] - per["send_jobs"], 1)
    rows.append(f"| **total without the send jobs** | **{without}** | |")
    rows.append(f"| **total** | **{m['total_bytes_per_recipient']}** |"
                f" **{HAND_WRITTEN['total']}** (no create, run start, enroll result, jobs) |")  # fmt: skip
    return rows


def sample_lines(sample: dict[str, Any]) -> list[str]:
    lines = [f"- `{k}` ({sample['lengths'][k]}): `{sample[k]}`"
             for k in ("recipient_entry", "fan_out_node", "mark")]  # fmt: skip
    for key, job in sample["job_keys"].items():
        fields = ", ".join(f"{f} {n}" for f, n in job.get("fields", {}).items())
        lines.append(f"- send job `{key}`: {job['type']} ({job.get('encoding', '?')}), MEMORY USAGE {job['memory_usage']}"
                     f"{'; fields ' + fields if fields else ''}")  # fmt: skip
    encodings = ", ".join(f"`{k}` {v}" for k, v in sample["encodings"].items())
    lines.append(f"- encodings: {encodings}")
    return lines


def server_note(m: dict[str, Any]) -> str:
    extra = " ".join(m.get("server_args", []))
    return f"started with `{extra}`" if extra else "Redis's default encodings"


def write(out: Path, result: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    t, m = result["timing"], result["memory"]
    p100, p1 = t["plan_100x100_s"], t["plan_1x10000_s"]
    lines = [
        "# Campaign planning and memory (issue 12)",
        "",
        f"Recorded {result['when']} on {result['machine']} (shared, 2 CPUs), Python "
        f"{result['python']}, Redis {m['redis_version']}, commit {result['commit']}; "
        f"load average (1, 5, 15 min) {result['load_average']['at_start']} at the start, "
        f"{result['load_average']['at_end']} at the end.",
        "",
        "Reproduce (from the project root):",
        "",
        f"    {result['command']}",
        "",
        "## Time to plan (`chronoq.campaigns.pacing.plan`)",
        "",
        f"Pacing: {PACING.model_dump_json()}; recipients in 7 zones (incl. Adelaide, "
        "Kolkata), 220 domain choices (gmail.com weighted), seeded.",
        "",
        "| case | median | min | max | rounds |",
        "|---|---|---|---|---|",
        f"| 10,000 recipients across 100 accounts (100 plans) | {p100['median'] * 1000:.0f} ms"
        f" | {p100['min'] * 1000:.0f} ms | {p100['max'] * 1000:.0f} ms | {len(p100['rounds'])} |",
        f"| 10,000 recipients on 1 account ({p1['sending_days']} sending days) |"
        f" {p1['median'] * 1000:.0f} ms | {p1['min'] * 1000:.0f} ms |"
        f" {p1['max'] * 1000:.0f} ms | {len(p1['rounds'])} |",
        "",
        "## Redis memory per recipient",
        "",
        f"used_memory delta / {m['recipients']:,} recipients, per phase, on a private "
        f"redis-server (no persistence, {server_note(m)}): 100 real campaigns (one per "
        "account, 100 recipients each in the spec, one `each` step), each phase the call "
        "the worker's job or the engine makes (bench/campaigns/memory.py's docstring). "
        "No worker runs; the plan's clock is set 52 weeks back so every send is due and "
        "the fan-out enqueues all of them.",
        "",
        "| phase (the real call) | bytes per recipient | hand-written layout (79db39d) |",
        "|---|---|---|",
        *memory_rows(m),
        "",
        f"All {m['granted_at_planned_slot']:,} recipients were granted by the real grant "
        f"at exactly their planned slot; all {m['send_jobs_enqueued']:,} send jobs were "
        "enqueued. Not counted: the enroll job's finished record (enqueued, never run "
        "here: it would hold the planned list once more) and the send jobs' finished "
        "records and results (they need the sends to run; retention is the engine's).",
        "",
        "### What the bytes are (MEMORY USAGE ... SAMPLES 0, summed per key pattern)",
        "",
        "| key pattern | keys | bytes | bytes per recipient |",
        "|---|---|---|---|",
        *[
            f"| `{k}` | {v['keys']:,} | {v['bytes']:,} | {v['bytes'] / m['recipients']:.1f} |"
            for k, v in m["by_key_pattern"].items()
            if v["bytes"] >= 10_000
        ],
        "",
        "One recipient's entries (campaign0's first; lengths in bytes):",
        "",
        *sample_lines(m["sample"]),
        "",
    ]
    (out / "RESULTS.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--hash-max-listpack-value", type=int, default=None,
                        help="start the private redis-server with this (default: Redis's)")  # fmt: skip
    args = parser.parse_args()
    accounts = people(args.seed)
    load_start = os.getloadavg()
    timing = time_plans(accounts, args.repeats)
    listpack = args.hash_max_listpack_value
    server_args = [] if listpack is None else ["--hash-max-listpack-value", str(listpack)]
    plan_ms = int(PLAN_CLOCK.timestamp() * 1000)
    memory = asyncio.run(measure_memory(accounts, PACING, plan_ms, server_args))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False, cwd=HERE).stdout.strip()  # fmt: skip
    command = "PYTHONPATH=src /work/venv/bin/python bench/campaigns/plan.py"
    if args.repeats != 7 or args.seed != 1:
        command += f" --repeats {args.repeats} --seed {args.seed}"
    if listpack is not None:
        command += f" --hash-max-listpack-value {listpack}"
    result = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
              "machine": platform.machine(), "python": platform.python_version(),
              "command": command, "seed": args.seed,
              "load_average": {"at_start": [round(x, 2) for x in load_start],
                               "at_end": [round(x, 2) for x in os.getloadavg()]}, "timing": timing, "memory": memory}  # fmt: skip
    write(args.out, result)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
