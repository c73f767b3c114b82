"""Redis-side cost of one single enqueue, instruction-exact.

A single enqueue is judged by its round trip, and on a 2-CPU box the server's share
of that trip is the part chronoq's scripts decide. This counts the instructions
redis-server executes per `SyncClient.enqueue` of a plain no-op job (the commonest
call: enqueue_plain.lua, no idle worker, events on), under valgrind's callgrind, so
the figure does not move with whatever else the machine runs. Each source tree runs
the same child (`_enqueue_child.py`) under its own PYTHONPATH against a fresh private
server: it connects and enqueues once (not counted), the counters are zeroed, then it
sends N enqueues one after the other, each waiting for its reply, as a caller does.
With `--handoff` an idle worker's registration with room for every job is written
first, so each enqueue is handed straight to it (the path an idle worker's start
waits on: take the registration, write the running record, push the inbox entry).

    python bench/redis_cost/enqueue.py [--jobs 2000] [--handoff] [--baseline REF]
        [--variant L=SRC]

Prints one line per tree and writes results-enqueue.json (results-handoff.json with
--handoff) beside this file (or --out).
Repeated runs agree within about 0.5 %.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from run import ROOT, Server, baseline_src, child_env  # bench/redis_cost/run.py

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_enqueue_child.py"
PORT = 16410


def count(src: Path, jobs: int, handoff: bool = False) -> int:
    """Instructions the server executed for `jobs` single enqueues from `src`."""
    with tempfile.TemporaryDirectory(prefix="cq-enqueue-cost-") as folder:
        server = Server(PORT, Path(folder), callgrind=True)
        try:
            child = subprocess.Popen(
                [sys.executable, str(CHILD), server.url, str(jobs), *(["handoff"] * handoff)],
                env=child_env(src, {}),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdin is not None and child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("the child did not connect")
            server.zero()
            child.stdin.write("go\n")
            child.stdin.flush()
            if child.stdout.readline().strip() != "done":
                raise RuntimeError("the child did not finish")
            instructions = server.instructions()
            child.wait(timeout=60)
            return instructions
        finally:
            server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--baseline", default="", help="git ref: also count chronoq@REF")
    parser.add_argument("--variant", action="append", default=[], help="LABEL=SRC folder")
    parser.add_argument("--handoff", action="store_true", help="every enqueue handed off")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    trees: dict[str, Path] = {"now": ROOT / "src"}
    if args.baseline:
        sha, src = baseline_src(args.baseline)
        trees[sha[:7]] = src
    for text in args.variant:
        label, _, src = text.partition("=")
        trees[label] = Path(src).resolve()
    results: dict[str, Any] = {"jobs": args.jobs, "handoff": args.handoff, "trees": {}}
    what = "handed-off single enqueue" if args.handoff else "single enqueue"
    for label, src in trees.items():
        per_job = count(src, args.jobs, args.handoff) / args.jobs
        results["trees"][label] = {"src": str(src), "instructions_per_enqueue": round(per_job)}
        print(f"{label}: {per_job:,.0f} Redis instructions per {what}", flush=True)
    name = "results-handoff.json" if args.handoff else "results-enqueue.json"
    Path(args.out, name).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
