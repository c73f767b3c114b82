"""Benchmark harness: chronoq side by side with peer job queues (stdlib only).

    python3 bench/run.py [--systems chronoq,arq,...] [--scenarios ...] [--repeat 3] [--quick]

See bench/README.md for the runner contract. Writes bench/results.json and bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SYSTEMS_DIR = BENCH / "systems"
VENVS = BENCH / ".venvs"
ALL_SYSTEMS = ["chronoq", "arq", "saq", "taskiq", "rq", "celery", "dramatiq", "huey"]
# scenario id -> (runner scenario, extra args)
SCENARIOS: dict[str, tuple[str, list[str]]] = {
    "enqueue_single": ("enqueue_single", []),
    "enqueue_bulk": ("enqueue_bulk", []),
    "process": ("process", ["--procs", "1"]),
    "process2": ("process", ["--procs", "2"]),
    "latency": ("latency", []),
    "delayed": ("delayed", []),
    "memory": ("memory", []),
}
QUICK_N = {
    "enqueue_single": 1000,
    "enqueue_bulk": 10000,
    "process": 5000,
    "process2": 5000,
    "latency": 50,
    "delayed": 50,
    "memory": 2000,
}
# table rows: (label, scenario id, key, higher is better)
FIGURES: list[tuple[str, str, str, bool]] = [
    ("enqueue single (jobs/s)", "enqueue_single", "rate", True),
    ("enqueue bulk (jobs/s)", "enqueue_bulk", "rate", True),
    ("process, 1 process (jobs/s)", "process", "rate", True),
    ("process, whole machine P=2 (jobs/s)", "process2", "rate", True),
    ("worker CPU, 1 process (s/1000 jobs)", "process", "cpu_s_per_1000", False),
    ("worker CPU, P=2 (s/1000 jobs)", "process2", "cpu_s_per_1000", False),
    ("enqueue-to-start p50 (ms)", "latency", "p50_ms", False),
    ("enqueue-to-start p99 (ms)", "latency", "p99_ms", False),
    ("enqueue-to-start max (ms)", "latency", "max_ms", False),
    ("delayed lateness p50 (ms)", "delayed", "p50_ms", False),
    ("delayed lateness p99 (ms)", "delayed", "p99_ms", False),
    ("delayed lateness max (ms)", "delayed", "max_ms", False),
    ("bytes per waiting job", "memory", "bytes_per_job", False),
]
DBS = list(range(10, 16))
# rq's default worker forks a work horse per job (~60-110 jobs/s here): N=20000 would take
# ~6 minutes per run, so it gets a smaller N (its rate does not depend on N)
N_OVERRIDE: dict[tuple[str, str], int] = {("rq", "process"): 3000, ("rq", "process2"): 3000}


# -- venvs ------------------------------------------------------------------------


def ensure_venv(name: str) -> Path:
    req = SYSTEMS_DIR / f"{name}.requirements.txt"
    venv = VENVS / name
    python = venv / "bin" / "python"
    h = hashlib.sha256(req.read_bytes())
    for line in req.read_text().splitlines():  # editable installs: their deps can change
        if line.strip().startswith("-e "):
            pyproject = (SYSTEMS_DIR / line.strip()[3:].strip() / "pyproject.toml").resolve()
            if pyproject.exists():
                h.update(pyproject.read_bytes())
    digest = h.hexdigest()
    stamp = venv / ".bench-stamp"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    if not python.exists():
        print(f"[{name}] creating venv", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print(f"[{name}] pip install -r {req.name}", file=sys.stderr, flush=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", req.name],
        cwd=SYSTEMS_DIR,
        check=True,
    )
    stamp.write_text(digest + "\n")
    return python


# -- one run ----------------------------------------------------------------------


def run_once(
    python: Path, name: str, scenario: str, *, n: int | None, db: int, timeout: float
) -> dict[str, object]:
    runner_scenario, extra = SCENARIOS[scenario]
    cmd = [str(python), str(SYSTEMS_DIR / f"{name}.py"), runner_scenario, "--db", str(db), *extra]
    if n is not None:
        cmd += ["--n", str(n)]
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
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        return {"error": f"timeout after {timeout:.0f}s", "stderr": _tail(err)}
    finally:
        _kill_group(proc)  # leftovers of a runner that did not clean up
    elapsed = time.monotonic() - started
    lines = [line for line in out.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit code {proc.returncode}", "stderr": _tail(err or out)}
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": "last stdout line is not JSON", "stderr": _tail(out + err)}
    if not isinstance(result, dict):
        return {"error": "last stdout line is not a JSON object"}
    result["_elapsed_s"] = round(elapsed, 2)
    if n is not None:
        result["n"] = n
    return result


def _kill_group(proc: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        if sig == signal.SIGTERM:
            time.sleep(0.2)


def _tail(text: str | None, lines: int = 15) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])


def combine(runs: list[dict[str, object]]) -> dict[str, object]:
    """Median of each numeric key over the successful runs."""
    ok = [r for r in runs if "error" not in r and "skip" not in r]
    if not ok:
        skips = [r for r in runs if "skip" in r]
        if skips:
            return {"skip": skips[0]["skip"]}
        return {"error": runs[-1].get("error", "failed") if runs else "not run"}
    out: dict[str, object] = {}
    for key in ok[0]:
        values = [r[key] for r in ok if key in r]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            out[key] = statistics.median(values)  # type: ignore[type-var]
        else:
            out[key] = values[0]
    out["runs"] = len(ok)
    failed = len(runs) - len(ok)
    if failed:
        out["failed_runs"] = failed
    return out


# -- machine ----------------------------------------------------------------------


def redis_info(db: int = 10) -> dict[str, str]:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=3) as s:
            s.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                data += chunk
                if not chunk:
                    break
                header, _, body = data.partition(b"\r\n")
                if header.startswith(b"$") and len(body) >= int(header[1:]):
                    break
    except OSError as exc:
        return {"error": str(exc)}
    info = {}
    for line in data.decode(errors="replace").splitlines():
        if ":" in line:
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
    return info


def machine() -> dict[str, object]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = redis_info()
    return {
        "uname": " ".join(platform.uname()),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "redis": info.get("redis_version", "unknown"),
        "redis_mode": info.get("redis_mode", ""),
    }


# -- report -----------------------------------------------------------------------


def fmt(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value >= 0.01 else f"{value:.4f}"


def figure(results: dict[str, dict[str, dict[str, object]]], system: str, scen: str, key: str):  # type: ignore[no-untyped-def]
    r = results.get(system, {}).get(scen)
    if r is None:
        return None, "-"
    if "skip" in r:
        return None, "skip"
    if "error" in r:
        return None, "ERR"
    v = r.get(key)
    if isinstance(v, int | float):
        # lateness: early (negative) is as wrong as late, so rank by magnitude
        return (abs(float(v)) if scen == "delayed" else float(v)), fmt(v)
    return None, "-"


def best_peer(results, peers, scen, key, higher):  # type: ignore[no-untyped-def]
    vals = [(figure(results, p, scen, key)[0], p) for p in peers]
    vals = [(v, p) for v, p in vals if v is not None]
    if not vals:
        return None, None
    return (max if higher else min)(vals)


def ratio(ours: float | None, best: float | None, higher: bool) -> float | None:
    if ours is None or best is None or ours <= 0 or best <= 0:
        return None
    return ours / best if higher else best / ours


def table(results, systems) -> list[str]:  # type: ignore[no-untyped-def]
    peers = [s for s in systems if s != "chronoq"]
    head = ["figure", *systems, "best peer", "chronoq vs best"]
    rows = [head, ["---"] * len(head)]
    for label, scen, key, higher in FIGURES:
        cells = [label + (" ↑" if higher else " ↓")]
        cells += [figure(results, s, scen, key)[1] for s in systems]
        best, who = best_peer(results, peers, scen, key, higher)
        cells.append(f"{fmt(best)} ({who})" if who else "-")
        r = ratio(figure(results, "chronoq", scen, key)[0], best, higher)
        cells.append(f"{r:.2f}x" if r is not None else "-")
        rows.append(cells)
    return ["| " + " | ".join(row) + " |" for row in rows]


def targets(results, systems) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    peers = [s for s in systems if s != "chronoq"]

    def ours(scen: str, key: str) -> float | None:
        return figure(results, "chronoq", scen, key)[0]

    def check(desc: str, value: float | None, ok, shown: str) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
        if value is None:
            return desc, "n/a", "no chronoq figure"
        return desc, "MET" if ok(value) else "MISSED", shown

    out = []
    for desc, scen in (
        ("processing, one process >= 2x fastest peer per process", "process"),
        ("processing, whole machine (P=2) >= 2x fastest peer whole machine", "process2"),
    ):
        best, who = best_peer(results, peers, scen, "rate", True)
        v = ours(scen, "rate")
        if best is None:
            out.append((desc, "n/a", "no peer figure"))
        else:
            out.append(
                check(
                    desc,
                    v,
                    lambda x, b=best: x >= 2 * b,
                    f"{fmt(v)} vs {fmt(best)} ({who}) = {ratio(v, best, True) or 0:.2f}x",
                )
            )
    best, who = best_peer(results, peers, "enqueue_single", "rate", True)
    v = ours("enqueue_single", "rate")
    if best is None:
        out.append(("single enqueue >= fastest peer", "n/a", "no peer figure"))
    else:
        out.append(
            check(
                "single enqueue >= fastest peer",
                v,
                lambda x: x >= best,
                f"{fmt(v)} vs {fmt(best)} ({who})",
            )
        )
    for desc, scen, key, limit, below in (
        ("bulk enqueue >= 50,000 jobs/s", "enqueue_bulk", "rate", 50000, False),
        ("idle enqueue-to-start p99 < 1 ms", "latency", "p99_ms", 1.0, True),
        ("delayed lateness p99 < 5 ms", "delayed", "p99_ms", 5.0, True),
        ("bytes per waiting job < 350", "memory", "bytes_per_job", 350, True),
        ("worker CPU < 0.15 s per 1000 jobs (1 process)", "process", "cpu_s_per_1000", 0.15, True),
    ):
        v = ours(scen, key)
        out.append(
            check(
                desc,
                v,
                (lambda x, lim=limit: x < lim) if below else (lambda x, lim=limit: x >= lim),
                fmt(v),
            )
        )
    return out


MAIN_KEYS = {
    "rate",
    "cpu_s_per_1000",
    "p50_ms",
    "p99_ms",
    "max_ms",
    "bytes_per_job",
    "_elapsed_s",
    "runs",
    "samples",
    "failed_runs",
}


def extra_figures(results, systems) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for system in systems:
        for scen, r in results.get(system, {}).items():
            extra = {
                k: v
                for k, v in r.items()
                if k not in MAIN_KEYS and isinstance(v, int | float) and not isinstance(v, bool)
            }
            if extra:
                shown = ", ".join(f"{k} {fmt(v)}" for k, v in extra.items())
                out.append(f"- {system} {scen}: {shown}")
    return out or ["(none)"]


def write_report(data: dict[str, object]) -> str:
    results = data["results"]
    systems = data["systems"]
    m = data["machine"]
    lines = [
        "# Benchmark results: chronoq vs peers (no-op jobs, local Redis)",
        "",
        "Generated by `bench/run.py`; do not edit by hand.",
        "",
        f"- Date: {data['date']}",
        f"- Command: `{data['command']}`",
        f"- Machine: {m['uname']}",  # type: ignore[index]
        f"- CPU: {m['cpu']} ({m['cores']} cores)",  # type: ignore[index]
        f"- Python: {m['python']}; Redis server {m['redis']}",  # type: ignore[index]
        f"- Repeats per figure: {data['repeat']} (median){' - QUICK mode (small N)' if data['quick'] else ''}",
        "",
        "## Table",
        "",
        '↑ higher is better, ↓ lower is better. "chronoq vs best" is chronoq/best peer for',
        "↑ figures and best peer/chronoq for ↓ figures, so **> 1 always means chronoq is",
        "better**. ERR = failed or timed out (see results.json), skip = the system has no such",
        "feature. Delayed lateness is ranked by its magnitude (a job started early counts as",
        "off by that much).",
        "",
        *table(results, systems),
        "",
        "## Targets",
        "",
        "| target | status | figure |",
        "| --- | --- | --- |",
        *[f"| {d} | {s} | {f} |" for d, s, f in targets(results, systems)],
        "",
        "## Method",
        "",
        "No-op jobs, one local Redis, 2 cores shared by Redis, the runner and the workers.",
        "Each runner: bench/systems/NAME.py, its venv bench/.venvs/NAME (pins in",
        "NAME.requirements.txt); contract and scenarios in bench/README.md. `process` =",
        "1 worker process, `process2` = 2 processes (or the peer's 2-process config).",
        "Worker CPU = user+sys of the worker process groups (from /proc) per 1000 jobs.",
        "N per scenario: README defaults unless --quick; overrides: "
        + (", ".join(f"{s} {c} N={n}" for (s, c), n in N_OVERRIDE.items()) or "none")
        + ".",
        "Repeats run in rounds (every system and scenario once per round).",
        "",
        "## Extra figures (medians)",
        "",
        *extra_figures(results, systems),
        "",
        "## Configuration notes",
        "",
    ]
    for system in systems:
        notes: dict[str, list[str]] = {}
        for scen, r in results.get(system, {}).items():
            texts = [str(r[k]) for k in ("config", "note") if r.get(k)]
            if "error" in r:
                texts.append(f"ERROR: {r['error']}")
            elif "skip" in r:
                texts.append(f"skipped: {r['skip']}")
            for text in texts:
                notes.setdefault(text, []).append(scen)
        lines.append(f"- **{system}**" + ("" if notes else ": (no notes)"))
        lines += [f"  - {text} ({', '.join(scens)})" for text, scens in notes.items()]
    lines += ["", *other_benchmarks(), ""]
    text = "\n".join(lines)
    (BENCH / "RESULTS.md").write_text(text)
    return text


def other_benchmarks() -> list[str]:
    """Headline figures of the scheduler and control benchmarks, from their own
    results.json (each has its full RESULTS.md and its own runner)."""
    lines = ["## Other benchmarks", ""]
    sched = BENCH / "scheduler" / "RESULTS.md"
    if sched.exists():
        lines.append(
            "- Scheduler (chronoq vs celery beat, celery-redbeat, arq cron, SAQ cron; "
            "lateness, missed runs, CPU and memory with 10,000 and 100,000 schedules): "
            "`bench/scheduler/RESULTS.md`, run with `python3 bench/scheduler/run.py`."
        )
    control = BENCH / "control" / "results.json"
    if control.exists():
        f = json.loads(control.read_text()).get("figures", {})
        lines.append(
            "- Control (locks, rate-limit decisions, rate accuracy, fairness): "
            "`bench/control/RESULTS.md`, run with `python bench/control/run.py`. Headlines:"
        )
        if "locks" in f:
            a = f["locks"]["acquire_release_per_second"]
            lines.append(
                f"  - lock acquire + release: {a['one_async_client_sequential']:,}/s from one "
                f"client; {a['two_processes_same_name']['per_second']:,}/s from 2 processes "
                "contending for one name"
            )
        if "decisions" in f:
            d = f["decisions"]
            lines.append(
                f"  - rate-limit decisions: {d['allowed_1_per_call']:,}/s one per call, "
                f"{d['allowed_64_per_call']:,}/s 64 per call"
            )
        if "rate" in f:
            rt = f["rate"]
            lines.append(
                f"  - rate accuracy, {rt['rate']} + burst {rt['burst']} for {rt['seconds']:g} s "
                f"against {rt['workers']} workers: per minute {rt['per_minute']}, at most "
                f"{rt['max_in_any_60s']} in any 60 s (bound {rt['bound']}), "
                f"{rt['allowance_used']:.1%} of the allowance used"
            )
        if "fairness" in f:
            fa = f["fairness"]
            lines.append(
                f"  - fairness: one job behind {fa['backlog']:,} of another account's starts "
                f"after {fa['fair']['time_to_first_run_ms']} ms (FIFO: "
                f"{fa['fifo']['time_to_first_run_ms']:,} ms)"
            )
    return lines


def prepare(
    systems: list[str], scenarios: list[str], results: dict[str, dict[str, dict[str, object]]]
) -> dict[str, Path]:
    """Create/update each system's venv; systems that cannot run get an error result."""
    pythons: dict[str, Path] = {}
    for system in systems:
        runner = SYSTEMS_DIR / f"{system}.py"
        if not runner.exists():
            print(f"[{system}] no runner {runner}", file=sys.stderr)
            results[system] = {s: {"error": "no runner"} for s in scenarios}
            continue
        try:
            pythons[system] = ensure_venv(system)
        except (subprocess.CalledProcessError, OSError) as exc:
            results[system] = {s: {"error": f"venv: {exc}"} for s in scenarios}
    return pythons


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--systems", default=",".join(ALL_SYSTEMS))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small N, for a smoke run")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep other systems'/scenarios' results from bench/results.json",
    )
    args = ap.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    scenarios = [s for s in args.scenarios.split(",") if s]
    for s in scenarios:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s!r}; choose from {', '.join(SCENARIOS)}")
    results: dict[str, dict[str, dict[str, object]]] = {}
    prev_path = BENCH / "results.json"
    if args.merge and prev_path.exists():
        results = json.loads(prev_path.read_text()).get("results", {})
    data: dict[str, object] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python3", "bench/run.py", *sys.argv[1:]]),
        "machine": machine(),
        "repeat": args.repeat,
        "quick": args.quick,
        "systems": [s for s in ALL_SYSTEMS if s in systems or s in results]
        + [s for s in systems if s not in ALL_SYSTEMS],
        "results": results,
    }

    def save() -> None:
        prev_path.write_text(json.dumps(data, indent=2) + "\n")
        write_report(data)

    pythons = prepare(systems, scenarios, results)
    save()
    # rounds outermost, so slow drifts of a noisy machine spread over every system alike
    runs: dict[tuple[str, str], list[dict[str, object]]] = {}
    for round_no in range(args.repeat):
        for index, system in enumerate(systems):
            if system not in pythons:
                continue
            db = DBS[index % len(DBS)]
            for scen in scenarios:
                done = runs.setdefault((system, scen), [])
                if any("skip" in r for r in done):
                    continue
                n = N_OVERRIDE.get((system, scen))
                if args.quick:
                    n = min(n or QUICK_N[scen], QUICK_N[scen])
                r = run_once(pythons[system], system, scen, n=n, db=db, timeout=args.timeout)
                done.append(r)
                shown = {k: v for k, v in r.items() if k not in ("stderr", "config", "note")}
                print(
                    f"[{system}] {scen} #{round_no + 1}: {json.dumps(shown)}",
                    file=sys.stderr,
                    flush=True,
                )
                if "error" in r:
                    print(r.get("stderr", ""), file=sys.stderr, flush=True)
                results.setdefault(system, {})[scen] = combine(done)
                if any("error" in x for x in done):
                    results[system][scen]["errors"] = [
                        {"error": x["error"], "stderr": x.get("stderr", "")}
                        for x in done
                        if "error" in x
                    ]
                save()
    save()
    print("\n".join(table(results, data["systems"])))
    print()
    for d, s, f in targets(results, data["systems"]):
        print(f"{s:7} {d}: {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
