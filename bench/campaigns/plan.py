"""Issue 12's campaign bar: 10,000 recipients across 100 accounts, the time to plan
their sends, and Redis memory per recipient.

    PYTHONPATH=src /work/venv/bin/python bench/campaigns/plan.py [--repeats 7] [--seed 1]

Plan: `chronoq.campaigns.pacing.plan` for each of 100 accounts (100 recipients
each, seeded zones and domains), all 100 plans timed together; the median (and
min, max) of `--repeats` rounds. Also one account of 10,000 recipients.

Memory: a private redis-server (free port, no persistence), used_memory (INFO) read
before and after each phase, divided by the recipients:
  1. enrolment: one HASH entry per recipient, email -> Recipient JSON, in the key
     the campaign core uses (`{cmp:<name>}:recipients`; written here with HSETNX as
     cmp-core's cmp_enroll.lua does (at CORE_LAYOUT), not through its code);
  2. fan-out: one workflow node per recipient in `{wf:<id>}:nodes`, shaped as
     chronoq.workflows stores a FanOut item (the recipient and its send_at inside);
  3. the grant's counters: every recipient granted at its planned slot through the
     real grant (chronoq.campaigns.grant -> cmp_grant.lua): day HASHes, grant-id
     SETs and the account's first day;
  4. step marks: `{cmp:<name>}:marks` "<step>|<email>" -> {job, state, at}, as
     cmp_step_end.lua writes them;
  5. the recipient index: `{cmpr:<email>}:campaigns` campaign -> enrol ms, written
     by the store's own code (CampaignStore._index, as its enroll does).
The send jobs' own records (queue job hashes, kept per the retention settings) are
not counted: they are the engine's, measured by bench/ (memory scenario).

Writes bench/campaigns/results.json and RESULTS.md (`--out` to change).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from chronoq import App
from chronoq.campaigns.grant import Granted, grant
from chronoq.campaigns.pacing import Pacing, Warmup, plan
from chronoq.core.ids import new_job_id
from chronoq.core.serialization import dumps

HERE = Path(__file__).resolve().parent
REDIS = "/usr/bin/redis-server"
ACCOUNTS, PER_ACCOUNT = 100, 100
ZONES = ["America/New_York", "Europe/London", "Australia/Adelaide", "Asia/Kolkata",
         "America/Los_Angeles", "Europe/Paris", None]  # fmt: skip
ACCOUNT_ZONES = ["Europe/Paris", "America/New_York", "Asia/Kolkata", "UTC"]
PACING = Pacing(windows=["mon-fri 09:00-17:00"], per_day=50, per_domain_per_day=10,
                warmup=Warmup(start=20, step=10))  # fmt: skip
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday
CORE_LAYOUT = "c07ed50"  # the cmp-core commit whose storage layout phases 1, 2 and 4 copy


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_server() -> Iterator[int]:
    folder = Path(tempfile.mkdtemp(prefix="cq-cmpbench-"))
    port = free_port()
    command = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
               "--save", "", "--appendonly", "no"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        conn = redis.Redis(port=port)
        for _ in range(200):
            try:
                conn.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        conn.close()
        yield port
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def used(conn: redis.Redis) -> int:
    return int(conn.info("memory")["used_memory"])


async def measure_memory(accounts: list[tuple[str, str, list[Person]]]) -> dict[str, Any]:
    total = sum(len(found) for _, _, found in accounts)
    start_ms = int(START.timestamp() * 1000)
    with private_server() as port:
        url, prefix = f"redis://127.0.0.1:{port}/0", "bench"
        conn = redis.Redis(port=port)
        app = App("cmpbench", redis_url=url, prefix=prefix)
        async with app.backend() as backend:
            sends = backend.campaign_sends
            # Load the script library (and warm the connection) before the baseline.
            await sends.usage("warm", [])
            await grant(sends, PACING, account="warm", account_zone="UTC",
                        recipient=Person("w@w.example", None, ""), grant_id="w",
                        now_ms=start_ms + 3_600_000)  # fmt: skip
            conn.delete(*conn.keys(f"{prefix}:{{cmpa:warm}}:*"))
            phases: dict[str, int] = {}
            before = used(conn)
            planned = {}
            for a, (account, zone, found) in enumerate(accounts):
                name = f"campaign{a}"
                pipe = conn.pipeline(transaction=False)
                for p in found:
                    body = {"email": p.email, "name": p.name, "zone": p.zone, "data": {}}
                    pipe.hsetnx(f"{prefix}:{{cmp:{name}}}:recipients", p.email.lower(),
                                dumps(body))  # fmt: skip
                pipe.execute()
                planned[account] = plan(PACING, zone, found, start_ms)
            phases["enrolment"] = used(conn) - before

            before = used(conn)
            for a, (account, _, found) in enumerate(accounts):
                pipe = conn.pipeline(transaction=False)
                key = f"{prefix}:{{wf:cmp-campaign{a}-1}}:nodes"
                for i, (p, slot) in enumerate(zip(found, planned[account], strict=True)):
                    item = {"email": p.email, "name": p.name, "zone": p.zone, "data": {},
                            "send_at": slot.at_ms}  # fmt: skip
                    call = dumps([[item], {"campaign": f"campaign{a}", "step": "email",
                                           "run": 1}])  # fmt: skip
                    node = {"stage": 1, "task": "outreach.email", "state": "pending",
                            "due": slot.at_ms, "item": i, "call": call}  # fmt: skip
                    pipe.hset(key, f"1.{i}", dumps(node))
                pipe.execute()
            phases["fan_out_nodes"] = used(conn) - before

            before = used(conn)
            granted = 0
            for a, (account, zone, found) in enumerate(accounts):
                # In time order, as the sends happen (the first grant fixes warm-up day 0).
                pairs = sorted(zip(found, planned[account], strict=True),
                               key=lambda pair: pair[1].at_ms)  # fmt: skip
                for p, slot in pairs:
                    answer = await grant(sends, PACING, account=account, account_zone=zone,
                                         recipient=p, grant_id=f"campaign{a}|email|{p.email}",
                                         now_ms=slot.at_ms)  # fmt: skip
                    granted += isinstance(answer, Granted)
            phases["grant_counters"] = used(conn) - before

            before = used(conn)
            for a, (_, _, found) in enumerate(accounts):
                pipe = conn.pipeline(transaction=False)
                for p in found:
                    mark = {"job": new_job_id("default"), "state": "sent", "at": start_ms}
                    pipe.hset(f"{prefix}:{{cmp:campaign{a}}}:marks",
                              f"email|{p.email.lower()}", dumps(mark))  # fmt: skip
                pipe.execute()
            phases["step_marks"] = used(conn) - before

            before = used(conn)
            for a, (_, _, found) in enumerate(accounts):  # the store's own index write
                await backend.campaigns._index(f"campaign{a}", [p.email.lower() for p in found])
            phases["recipient_index"] = used(conn) - before
            version = conn.info("server")["redis_version"]
        conn.close()
    if granted != total:
        raise RuntimeError(f"only {granted} of {total} granted at their planned slots")
    per = {k: round(v / total, 1) for k, v in phases.items()}
    return {"recipients": total, "delta_bytes": phases, "bytes_per_recipient": per,
            "total_bytes_per_recipient": round(sum(phases.values()) / total, 1),
            "granted_at_planned_slot": granted, "redis_version": version}  # fmt: skip


def write(out: Path, result: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    t, m = result["timing"], result["memory"]
    p100, p1 = t["plan_100x100_s"], t["plan_1x10000_s"]
    per = m["bytes_per_recipient"]
    lines = [
        "# Campaign planning and memory (issue 12)",
        "",
        f"Recorded {result['when']} on {result['machine']} (shared, 2 CPUs), Python "
        f"{result['python']}, Redis {m['redis_version']}, commit {result['commit']}.",
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
        "redis-server (no persistence); what each phase writes is in plan.py's docstring.",
        "",
        "| phase | bytes per recipient |",
        "|---|---|",
        f"| enrolment (`{{cmp:<name>}}:recipients` HASH entry, Recipient JSON) |"
        f" {per['enrolment']} |",
        f"| fan-out node (`{{wf:<id>}}:nodes` HASH entry) | {per['fan_out_nodes']} |",
        f"| grant counters (`{{cmpa:<account>}}`: day HASH, grant-id SET, first day) |"
        f" {per['grant_counters']} |",
        f"| step mark (`{{cmp:<name>}}:marks` entry) | {per['step_marks']} |",
        f"| recipient index (`{{cmpr:<email>}}:campaigns` HASH, one key per recipient) |"
        f" {per['recipient_index']} |",
        f"| **total** | **{m['total_bytes_per_recipient']}** |",
        "",
        f"All {m['granted_at_planned_slot']:,} recipients were granted by the real grant "
        "(cmp_grant.lua) at exactly their planned slot. Not counted: the send jobs' own "
        "records (the engine's; see bench/RESULTS.md, memory). The enrolment, fan-out and "
        f"mark layouts are branch cmp-core's at {CORE_LAYOUT}, written by this bench with "
        "the same key names and JSON (that code is not on this branch).",
        "",
    ]
    (out / "RESULTS.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    accounts = people(args.seed)
    timing = time_plans(accounts, args.repeats)
    memory = asyncio.run(measure_memory(accounts))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False, cwd=HERE).stdout.strip()  # fmt: skip
    command = "PYTHONPATH=src /work/venv/bin/python bench/campaigns/plan.py"
    if args.repeats != 7 or args.seed != 1:
        command += f" --repeats {args.repeats} --seed {args.seed}"
    result = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
              "machine": platform.machine(), "python": platform.python_version(),
              "command": command, "seed": args.seed, "timing": timing, "memory": memory}  # fmt: skip
    write(args.out, result)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
