"""Campaign sends through the whole path, a no-op step: sends per second and the
Redis connections they open.

    PYTHONPATH=src /work/venv/bin/python bench/campaigns/sends.py [--recipients 1000]
        [--concurrency 16] [--repeats 3] [--label after] [--commit SHA]

Before/after a change: run it with PYTHONPATH at a copy of the old tree's src,
`--label before --commit <old>`, then at this tree's, `--label after`.

A private redis-server (free port, no persistence) per round; one in-process
worker (`--concurrency`); a campaign whose one step is `each` over its own
`--recipients` recipients (pacing off) and whose step function does nothing. The
run task is enqueued, and the round ends when the run's workflow ended (polled on
its record alone; the campaign is then checked completed). Reported per round:

- sends/s: recipients / (the last step mark's time - the first's), the fan-out
  itself (the run start, enrolment and plan are before the first mark);
- end to end: the run's enqueue to the campaign completed, seconds;
- connections: `INFO stats total_connections_received` after minus before the
  run's enqueue (the worker's own connections are opened before), and per send.

Median of `--repeats` rounds. Writes bench/campaigns/sends.json (each `--label`,
e.g. before/after a change, kept side by side) and SENDS.md from it, and prints
the round's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

import chronoq
from chronoq import App
from chronoq.campaigns import CampaignContext, Campaigns, campaign_step, campaigns, install
from chronoq.worker import Worker, WorkerOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import private_server

HERE = Path(__file__).resolve().parent
NAME = "bench"


def build(port: int) -> App:
    app = App("cmp-bench", redis_url=f"redis://127.0.0.1:{port}/0", prefix="cmpb")
    app.settings.workflow_sweep = 0.2
    install(app)

    @campaign_step(app, name="bench.noop", max_retries=0)
    async def noop(recipient: dict[str, Any], ctx: CampaignContext) -> None:
        return None

    return app


def spec(recipients: int) -> dict[str, Any]:
    return {
        "name": NAME,
        "account": "acct",
        "steps": [{"name": "email", "task": "bench.noop", "each": True}],
        "schedule": {"every": "1d"},
        "max_runs": 1,
        "recipients": [{"email": f"r{i}@d{i % 50}.example"} for i in range(recipients)],
    }


async def one_round(recipients: int, concurrency: int) -> dict[str, Any]:
    with private_server([]) as port:
        app = build(port)
        raw = redis.Redis(port=port)
        worker = Worker(app, WorkerOptions(concurrency=concurrency, alerts=False))
        running = asyncio.create_task(worker.run())
        try:
            async with campaigns(app) as c:
                await c.create(spec(recipients))
                await asyncio.sleep(1.0)  # the worker's own connections are all open
                before = int(raw.info("stats")["total_connections_received"])
                began = time.perf_counter()
                await c.client.enqueue("chronoq.campaigns.run", NAME)
                while not await ended(c):
                    await asyncio.sleep(0.05)
                took = time.perf_counter() - began
                after = int(raw.info("stats")["total_connections_received"])
                marks = await c.store.marks(NAME)
                assert (await c.get(NAME)).state.value == "completed"
        finally:
            worker.request_stop()
            await asyncio.wait_for(running, 60)
            raw.close()
    times = sorted(int(m["at"]) for m in marks.values() if m["state"] == "sent")
    assert len(times) == recipients, (len(times), recipients)
    span = max(times[-1] - times[0], 1) / 1000
    opened = after - before
    return {"sends_per_s": recipients / span, "fan_out_s": span, "end_to_end_s": took,
            "connections": opened, "connections_per_send": opened / recipients}  # fmt: skip


async def ended(c: Campaigns) -> bool:
    """The run's workflow ended (read of its record only: a view loads every node)."""
    record = (await c.workflows.store.records([f"cmp-{NAME}-1"]))[0]
    return record.get("status") in ("completed", "failed", "cancelled")


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def report(kept: dict[str, Any]) -> None:
    """SENDS.md: every label's medians side by side, from sends.json."""
    lines = [
        "# Campaign sends through the whole path (issue 12)",
        "",
        "A no-op `each` step over a campaign's recipients, pacing off, one in-process "
        "worker, a private redis-server per round (bench/campaigns/sends.py's docstring). "
        "Medians of the rounds; the shared 2-CPU box's load moves sends/s a lot between "
        "rounds (each round's figure is in sends.json), the connections not at all.",
        "",
        "Reproduce (from the project root):",
        "",
        "    PYTHONPATH=src /work/venv/bin/python bench/campaigns/sends.py --label after",
        "",
        "| label | commit | recorded | recipients | concurrency | sends/s (rounds) "
        "| end to end | connections opened | per send |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in kept.items():
        m = r["median"]
        each = ", ".join(f"{x['sends_per_s']:.1f}" for x in r["rounds"])
        lines.append(
            f"| {label} | {r['commit']} | {r['recorded']} | {r['recipients']:,} | "
            f"{r['concurrency']} | {m['sends_per_s']:.1f} ({each}) | {m['end_to_end_s']:.1f} s | "
            f"{m['connections']:.0f} | {m['connections_per_send']:.3f} |"
        )
    (HERE / "SENDS.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--label", default="current")
    parser.add_argument("--commit", help="the commit of the chronoq measured, when PYTHONPATH "
                        "points at another tree than this checkout's HEAD")  # fmt: skip
    args = parser.parse_args()
    rounds = [asyncio.run(one_round(args.recipients, args.concurrency))
              for _ in range(args.repeats)]  # fmt: skip
    commit = args.commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                           capture_output=True, text=True,
                                           check=False).stdout.strip()  # fmt: skip
    result = {
        "recorded": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "chronoq": str(Path(chronoq.__file__).parent),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "recipients": args.recipients,
        "concurrency": args.concurrency,
        "median": summary(rounds),
        "rounds": rounds,
    }
    out = HERE / "sends.json"
    kept = json.loads(out.read_text()) if out.exists() else {}
    kept[args.label] = result
    out.write_text(json.dumps(kept, indent=2) + "\n")
    report(kept)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
