"""Where the idle-start tail comes from: enqueue-to-start latency by the gap before it.

The `latency` scenario sends jobs at random (exponential) intervals averaging 10 ms, so
about one job in twenty arrives within half a millisecond of the one before, while
the worker and Redis are still busy with it. This runs that scenario's runner (the
bench's own, `bench/systems/NAME.py latency`) for each system in turn, keeps every
job's (start, sent) pair instead of only the percentiles, and reports the latency of
the jobs in each bucket of the gap since the previous send: a tail made by jobs that
arrive close together is a different problem from one made by jobs that arrive after
a long idle gap (cold caches, sleeping CPUs).

    python bench/client/latency_gaps.py [--systems chronoq,chronoq-sync,huey]
        [--n 3000] [--rounds 2] [--out bench/client]

`chronoq` sends with the async Client (the `latency` row), `chronoq-sync` with the
SyncClient (`latency_sync`). The systems' venvs are the bench's (bench/.venvs, made by
`bench/run.py` on first use). Rounds are interleaved (system order shuffled per round)
and their pairs pooled. Writes results-latency-gaps.json beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
sys.path.insert(0, str(BENCH))

from harness import venvs  # noqa: E402

SYSTEMS_DIR = BENCH / "systems"
DB = 13
BUCKETS_MS = ((0.0, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 5.0), (5.0, 1e9))
# The runner, with its `collect` wrapped so that the raw pairs are written to PAIRS_OUT.
WRAPPER = """
import json, os, runpy, sys
sys.path.insert(0, {systems!r})
import _peers
collect = _peers.collect
async def keeping(r, workers, n, timeout):
    pairs = await collect(r, workers, n, timeout)
    with open(os.environ["PAIRS_OUT"], "w") as out:
        json.dump(pairs, out)
    return pairs
_peers.collect = keeping
sys.argv[0] = {runner!r}
runpy.run_path({runner!r}, run_name="__main__")
"""


def run_system(name: str, n: int, seed: int) -> list[list[float]]:
    system = name.split("-", 1)[0]
    python = venvs.ensure_venv(system)
    runner = str(SYSTEMS_DIR / f"{system}.py")
    code = WRAPPER.format(systems=str(SYSTEMS_DIR), runner=runner)
    args = ["latency", "--n", str(n), "--db", str(DB), "--seed", str(seed)]
    if name == "chronoq-sync":
        args += ["--stamp-client", "sync"]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder, "pairs.json")
        env = {**os.environ, "PAIRS_OUT": str(out)}
        subprocess.run(
            [str(python), "-c", code, *args], cwd=SYSTEMS_DIR, env=env, check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600,
        )  # fmt: skip
        pairs: list[list[float]] = json.loads(out.read_text())
    return pairs


def quantile(values: list[float], q: int) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, len(v) * q // 100)]


def summary(values: list[float]) -> dict[str, float]:
    out = {f"p{q}": round(quantile(values, q), 3) for q in (50, 90, 99)}
    out["n"] = len(values)
    return out


def by_gap(runs: list[list[list[float]]]) -> dict[str, Any]:
    """Latency (ms) overall and per bucket of the gap (ms) since the previous send of
    the same run."""
    every: list[float] = []
    buckets: dict[str, list[float]] = {f"{lo:g}-{hi:g}": [] for lo, hi in BUCKETS_MS}
    for pairs in runs:
        ordered = sorted(pairs, key=lambda pair: pair[1])  # by send time
        for i, (start, sent) in enumerate(ordered):
            latency = (start - sent) * 1000
            every.append(latency)
            if i == 0:
                continue
            gap = (sent - ordered[i - 1][1]) * 1000
            for lo, hi in BUCKETS_MS:
                if lo <= gap < hi:
                    buckets[f"{lo:g}-{hi:g}"].append(latency)
    return {
        "all": summary(every),
        "by gap (ms)": {k: summary(v) for k, v in buckets.items() if v},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--systems", default="chronoq,chronoq-sync,huey")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    systems = args.systems.split(",")
    runs: dict[str, list[list[list[float]]]] = {name: [] for name in systems}
    order = random.Random(1)
    for round_ in range(args.rounds):
        for name in order.sample(systems, len(systems)):
            runs[name].append(run_system(name, args.n, seed=round_ + 1))
    results: dict[str, Any] = {"n": args.n, "rounds": args.rounds, "systems": {}}
    for name in systems:
        found = results["systems"][name] = by_gap(runs[name])
        head = found["all"]
        print(f"{name}: all p50 {head['p50']} p90 {head['p90']} p99 {head['p99']} ms")
        for bucket, s in found["by gap (ms)"].items():
            print(
                f"  gap {bucket:>7s} ms: n={s['n']:5d} p50 {s['p50']} p90 {s['p90']} p99 {s['p99']}"
            )
    Path(args.out, "results-latency-gaps.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
