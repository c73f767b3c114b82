"""Benchmark harness: chronoq side by side with peer job queues (stdlib only).

    python3 bench/run.py [--systems chronoq,arq,...] [--scenarios ...] [--repeat 3]
                         [--baseline REF] [--quick] [--out DIR]

See bench/README.md for the method and the runner contract. Writes results.json and
RESULTS.md (in bench/, or --out DIR) after every run, so a stopped bench leaves its
results so far.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shlex
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import noise, report, venvs
from harness.cluster import BenchCluster
from harness.resp import info
from harness.spec import ALL_SYSTEMS, DBS, PEERS, SCENARIOS, Scenario, run_n

BENCH = Path(__file__).resolve().parent
SYSTEMS_DIR = BENCH / "systems"
FORMAT = 2


# -- one run --------------------------------------------------------------------------


def command(
    python: Path,
    runner: str,
    scen: Scenario,
    *,
    n: int | None,
    db: int,
    quick: bool,
    url: str | None,
    seed: int,
) -> list[str]:
    cmd = [str(python), str(SYSTEMS_DIR / f"{runner}.py"), scen.runner, "--db", str(db)]
    cmd += list(scen.args)
    if n is not None:
        cmd += ["--n", str(n)]
    if quick:
        cmd += list(scen.quick_args)
    if url:
        cmd += ["--url", url]
    if scen.seeded:
        cmd += ["--seed", str(seed)]
    return cmd


def run_once(cmd: list[str], timeout: float, window: noise.CpuWindow) -> dict[str, Any]:
    """One runner process; its figures, plus the noise around it."""
    pings = noise.ping_stats()
    window.start()
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=SYSTEMS_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        result = parse(proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        result = {"error": f"timeout after {timeout:.0f}s", "stderr": _tail(err)}
    finally:
        _kill_group(proc)  # leftovers of a runner that did not clean up
    elapsed = time.monotonic() - started
    result["noise"] = {**pings, **window.stop()}
    result["_elapsed_s"] = round(elapsed, 2)
    return result


def parse(returncode: int, out: str, err: str) -> dict[str, Any]:
    lines = [line for line in out.splitlines() if line.strip()]
    if returncode != 0 or not lines:
        return {"error": f"exit code {returncode}", "stderr": _tail(err or out)}
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": "last stdout line is not JSON", "stderr": _tail(out + err)}
    if not isinstance(result, dict):
        return {"error": "last stdout line is not a JSON object"}
    return result


def _kill_group(proc: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        if sig == signal.SIGTERM:
            time.sleep(0.2)


def _tail(text: str | None, lines: int = 15) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])


def combine(raw: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each numeric key over the successful runs; noise summarised over all."""
    ok = [r for r in raw if "error" not in r and "skip" not in r]
    out: dict[str, Any]
    if not ok:
        skips = [r for r in raw if "skip" in r]
        out = {"skip": skips[0]["skip"]} if skips else {"error": raw[-1].get("error", "failed")}
    else:
        out = {}
        for key in ok[0]:
            if key == "noise":
                continue
            values = [r[key] for r in ok if key in r]
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
            out[key] = statistics.median(values) if numeric else values[0]
        out["runs"] = len(ok)
        if len(raw) > len(ok):
            out["failed_runs"] = len(raw) - len(ok)
    noises = [r["noise"] for r in raw if "noise" in r]
    if noises:
        out["noise"] = {
            "other_cpu_max": max(n.get("other_cpu", 0.0) for n in noises),
            "other_cpu_median": statistics.median(n.get("other_cpu", 0.0) for n in noises),
            "redis_cpu_median": statistics.median(n.get("redis_cpu", 0.0) for n in noises),
            "ping_p50_ms_median": statistics.median(n.get("ping_p50_ms", 0.0) for n in noises),
            "ping_p99_ms_max": max(n.get("ping_p99_ms", 0.0) for n in noises),
        }
    errors = [{"error": r["error"], "stderr": r.get("stderr", "")} for r in raw if "error" in r]
    if errors:
        out["errors"] = errors
    out["raw"] = raw
    return out


# -- setup ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    server = info()
    return {
        "uname": " ".join(platform.uname()),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "redis": server.get("redis_version", "unknown"),
        "redis_mode": server.get("redis_mode", ""),
    }


def prepare(
    systems: list[str],
    baseline: dict[str, str] | None,
    results: dict[str, Any],
    scenarios: list[str],
) -> dict[str, tuple[Path, str]]:
    """Each system's (python, runner name); a system that cannot run gets an error."""
    ready: dict[str, tuple[Path, str]] = {}
    for system in systems:
        try:
            if baseline and system == baseline["system"]:
                ready[system] = (venvs.baseline_venv(baseline["sha"], system), "chronoq")
            elif (SYSTEMS_DIR / f"{system}.py").exists():
                ready[system] = (venvs.ensure_venv(system), system)
            else:
                results[system] = {s: {"error": "no runner"} for s in scenarios}
        except (subprocess.CalledProcessError, OSError) as exc:
            results[system] = {s: {"error": f"venv: {exc}"} for s in scenarios}
    return ready


def plan_round(
    systems: list[str], scenarios: list[str], rng: random.Random
) -> list[tuple[str, str]]:
    """Every (system, scenario) that applies, once, in a shuffled order."""
    pairs = [
        (system, scen)
        for system in systems
        for scen in scenarios
        if not SCENARIOS[scen].chronoq_only or system == "chronoq"
    ]
    rng.shuffle(pairs)
    return pairs


def merge_previous(path: Path, data: dict[str, Any], planned: set[tuple[str, str]]) -> None:
    """--merge: keep earlier figures for what this run does not measure, and list each."""
    if not path.exists():
        return
    prev = json.loads(path.read_text())
    if prev.get("format") != FORMAT:
        sys.exit(f"--merge: {path} is in an older format; rerun everything instead")
    for system, scens in prev.get("results", {}).items():
        for scen, r in scens.items():
            if (system, scen) not in planned:
                data["results"].setdefault(system, {})[scen] = r
                data["merged"].append({"system": system, "scenario": scen, "date": prev["date"]})
                if system not in data["systems"]:
                    data["systems"].append(system)
    if (
        data["baseline"] is None
        and prev.get("baseline", {})
        and any(m["system"] == prev["baseline"]["system"] for m in data["merged"])
    ):
        data["baseline"] = prev["baseline"]
    order = ["chronoq", *sorted(s for s in data["systems"] if s.startswith("chronoq@")), *PEERS]
    data["systems"].sort(key=lambda s: order.index(s) if s in order else len(order))


def start_cluster(data: dict[str, Any], ready: dict[str, tuple[Path, str]]) -> BenchCluster | None:
    """The bench's own Cluster, if a Cluster scenario is to run; a Cluster that does not
    come up fails those scenarios only."""
    wanted = [s for s in data["scenarios"] if SCENARIOS[s].cluster]
    if "chronoq" not in ready or not wanted:
        return None
    cluster = BenchCluster()
    try:
        cluster.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        print(f"[cluster] did not start: {exc}", file=sys.stderr, flush=True)
        for scen in wanted:
            data["results"].setdefault("chronoq", {})[scen] = {"error": f"cluster: {exc}"}
        data["scenarios"] = [s for s in data["scenarios"] if s not in wanted]
        return None
    data["cluster"] = {"url": cluster.url, "masters": len(cluster.ports)}
    return cluster


# -- main -----------------------------------------------------------------------------


def run_rounds(
    args: argparse.Namespace,
    data: dict[str, Any],
    ready: dict[str, tuple[Path, str]],
    cluster: BenchCluster | None,
    save: Any,
) -> None:
    """`--repeat` rounds; each runs every (system, scenario) once, in its own shuffled
    order, so slow drifts of a shared machine spread over every system alike."""
    systems, results = data["systems"], data["results"]
    server_pid = noise.find_server_pid(6379)
    raws: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for round_no in range(args.repeat):
        rng = random.Random(args.seed * 1000 + round_no)
        for system, scen in plan_round(list(ready), data["scenarios"], rng):
            done = raws.setdefault((system, scen), [])
            if any("skip" in r for r in done):
                continue  # a missing feature stays missing
            spec = SCENARIOS[scen]
            n = run_n(system, scen, quick=args.quick, latency_n=args.latency_n)
            python, runner = ready[system]
            cmd = command(
                python,
                runner,
                spec,
                n=n,
                db=DBS[systems.index(system) % len(DBS)],
                quick=args.quick,
                url=cluster.url if spec.cluster and cluster else None,
                seed=args.seed * 1000 + round_no,
            )
            r = run_once(
                cmd, args.timeout, noise.CpuWindow(server_pid, cluster.pids if cluster else ())
            )
            done.append(r)
            data["order"].append([round_no + 1, system, scen])
            shown = {k: v for k, v in r.items() if k not in ("stderr", "config", "note")}
            print(
                f"[{system}] {scen} #{round_no + 1}: {json.dumps(shown)}",
                file=sys.stderr,
                flush=True,
            )
            if "error" in r:
                print(r.get("stderr", ""), file=sys.stderr, flush=True)
            results.setdefault(system, {})[scen] = combine(done)
            save()


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--systems", default=",".join(ALL_SYSTEMS))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--repeat", type=int, default=3, help="rounds (figures are medians)")
    ap.add_argument("--baseline", default=None, help="git ref: also run chronoq@REF")
    ap.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    ap.add_argument("--seed", type=int, default=1, help="order and arrival-plan seed")
    ap.add_argument(
        "--latency-n",
        type=int,
        default=None,
        help="jobs per idle-start run, every system (default: the runner's 500)",
    )
    ap.add_argument("--out", default=str(BENCH), help="directory for results.json/RESULTS.md")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep earlier figures for what is not run now (flagged as MERGED)",
    )
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    systems = [s for s in args.systems.split(",") if s]
    scenarios = [s for s in args.scenarios.split(",") if s]
    for s in scenarios:
        if s not in SCENARIOS:
            sys.exit(f"unknown scenario {s!r}; choose from {', '.join(SCENARIOS)}")
    baseline = None
    if args.baseline:
        sha = venvs.resolve(args.baseline)
        baseline = {"ref": args.baseline, "sha": sha, "system": f"chronoq@{sha[:7]}"}
        at = systems.index("chronoq") + 1 if "chronoq" in systems else 0
        systems.insert(at, baseline["system"])
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "RESULTS.md"
    started = time.monotonic()
    data: dict[str, Any] = {
        "format": FORMAT,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python3", "bench/run.py", *sys.argv[1:]]),
        "machine": machine(),
        "checkout": venvs.checkout_state(),
        "baseline": baseline,
        "repeat": args.repeat,
        "quick": args.quick,
        "seed": args.seed,
        "systems": list(systems),
        "scenarios": scenarios,
        "subreaper": noise.become_subreaper(),
        "merged": [],
        "order": [],
        "results": {},
    }
    results = data["results"]
    if args.merge:
        merge_previous(json_path, data, {(s, c) for s in systems for c in scenarios})

    def save() -> None:
        data["wall_s"] = round(time.monotonic() - started, 1)
        json_path.write_text(json.dumps(data, indent=2) + "\n")
        report.write_report(data, md_path)

    ready = prepare(systems, baseline, results, scenarios)
    cluster = start_cluster(data, ready)
    save()
    try:
        run_rounds(args, data, ready, cluster, save)
    finally:
        if cluster is not None:
            cluster.stop()
        save()
    print("\n".join(report.table(data)))
    print()
    for desc, status, shown in report.targets(data):
        print(f"{status:7} {desc}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
