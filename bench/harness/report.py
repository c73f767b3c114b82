"""RESULTS.md from results.json: the table, the targets, noise, notes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.spec import (
    BASELINE_ROWS,
    CONFIGS,
    FIGURES,
    N_OVERRIDE,
    NOISY_OTHER_CPU,
    SCENARIOS,
    Figure,
)

Results = dict[str, dict[str, dict[str, Any]]]


def fmt(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if magnitude >= 0.01 else f"{value:.4f}"


def value(results: Results, system: str, scen: str, key: str) -> tuple[float | None, str]:
    """(number to rank by, cell text). Delayed lateness ranks by magnitude: a job
    started early is as wrong as one started late."""
    r = results.get(system, {}).get(scen)
    if r is None:
        return None, "-"
    if "skip" in r:
        return None, "skip"
    if "error" in r:
        return None, "ERR"
    v = r.get(key)
    if not isinstance(v, int | float):
        return None, "-"
    noisy = r.get("noise", {}).get("other_cpu_max", 0) > NOISY_OTHER_CPU
    ranked = abs(float(v)) if scen == "delayed" else float(v)
    return ranked, fmt(v) + (" †" if noisy else "")


def best_of(results: Results, peers: list[str], scen: str, key: str, higher: bool):  # type: ignore[no-untyped-def]
    found = [(value(results, p, scen, key)[0], p) for p in peers]
    found = [(v, p) for v, p in found if v is not None]
    if not found:
        return None, None
    return (max if higher else min)(found)


def ratio(ours: float | None, other: float | None, higher: bool) -> float | None:
    """> 1 always means `ours` is better."""
    if ours is None or other is None or ours <= 0 or other <= 0:
        return None
    return ours / other if higher else other / ours


def _roles(data: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(the baseline column, the peers): a chronoq@REF column is never a peer."""
    base = (data.get("baseline") or {}).get("system")
    if base is None:
        base = next((s for s in data["systems"] if s.startswith("chronoq@")), None)
    peers = [s for s in data["systems"] if s != "chronoq" and not s.startswith("chronoq@")]
    return base, peers


def table(data: dict[str, Any]) -> list[str]:
    results, systems = data["results"], data["systems"]
    base, peers = _roles(data)
    head = ["figure", *systems, "best peer", "chronoq vs best"]
    rows = [head, ["---"] * len(head)]
    for f in FIGURES:
        cells = [f.label + (" ↑" if f.higher else " ↓")]
        cells += [_cell(results, s, f) for s in systems]
        ours = value(results, "chronoq", f.scenario, f.key)[0]
        if f.versus:
            other, text = value(results, "chronoq", f.versus, f.key)
            cells.append(f"single server: {text}")
        else:
            pool = [p for p in peers if f.peers is None or p in f.peers]
            other, who = best_of(results, pool, f.peer_scenario or f.scenario, f.key, f.higher)
            cells.append(f"{fmt(other)} ({who})" if who else "-")
        r = ratio(ours, other, f.higher)
        cells.append(f"{r:.2f}x" if r is not None else "-")
        rows.append(cells)
    for label, scen in BASELINE_ROWS:
        r = ratio(
            value(results, "chronoq", scen, "rate")[0],
            value(results, base, scen, "rate")[0] if base else None,
            True,
        )
        shown = f"{r:.2f}x" if r is not None else "-"
        cells = [f"{label} ↑"] + [shown if s == "chronoq" else "-" for s in systems]
        rows.append([*cells, f"baseline: {base or 'none'}", shown])
    return ["| " + " | ".join(row) + " |" for row in rows]


def _cell(results: Results, system: str, f: Figure) -> str:
    """A like-for-like row shows chronoq's own figure and the chosen peers' (from
    their scenario); every other row, each system's figure for the row's scenario."""
    if f.peers is None or system == "chronoq":
        return value(results, system, f.scenario, f.key)[1]
    if system in f.peers and f.peer_scenario:
        return value(results, system, f.peer_scenario, f.key)[1]
    return "-"


def targets(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    results = data["results"]
    base, peers = _roles(data)

    def ours(scen: str, key: str) -> float | None:
        return value(results, "chronoq", scen, key)[0]

    def judge(
        desc: str,
        v: float | None,
        other: float | None,
        ok: Callable[[float, float], bool],
        shown: str,
    ) -> tuple[str, str, str]:
        if v is None or other is None:
            return desc, "n/a", "missing figure"
        return desc, "MET" if ok(v, other) else "MISSED", shown

    out = []
    for desc, scen, key in (
        ("idle enqueue-to-start p99 ahead of the best peer", "latency", "p99_ms"),
        ("delayed-job lateness p99 ahead of the best peer", "delayed", "p99_ms"),
    ):
        other, who = best_of(results, peers, scen, key, False)
        v = ours(scen, key)
        out.append(
            judge(desc, v, other, lambda a, b: a < b, f"{fmt(v)} ms vs {fmt(other)} ms ({who})")
        )
    for desc, scen in (
        ("single enqueue, sync >= 1.2x the best peer (sync)", "enqueue_sync"),
        ("single enqueue, async >= 1.2x the best peer (async)", "enqueue_async"),
    ):
        other, who = best_of(results, peers, scen, "rate", True)
        v = ours(scen, "rate")
        out.append(
            judge(
                desc,
                v,
                other,
                lambda a, b: a >= 1.2 * b,
                f"{fmt(v)}/s vs {fmt(other)}/s ({who}) = {ratio(v, other, True) or 0:.2f}x",
            )
        )
    for desc, scen in (
        ("processing >= 1.3x the baseline, 1 process", "process"),
        ("processing >= 1.3x the baseline, whole machine (P=2)", "process2"),
    ):
        other = value(results, base, scen, "rate")[0] if base else None
        v = ours(scen, "rate")
        out.append(
            judge(
                desc,
                v,
                other,
                lambda a, b: a >= 1.3 * b,
                f"{fmt(v)}/s vs {fmt(other)}/s ({base}) = {ratio(v, other, True) or 0:.2f}x",
            )
        )
    v, other = ours("cluster_process", "rate"), ours("single3_process", "rate")
    out.append(
        judge(
            "Cluster (3 queues on 3 masters) throughput within 10 % of one server",
            v,
            other,
            lambda a, b: a >= 0.9 * b,
            f"{fmt(v)}/s vs {fmt(other)}/s = {ratio(v, other, True) or 0:.2f}x",
        )
    )
    for key in ("p50_ms", "p99_ms"):
        v, other = ours("cluster_latency", key), ours("single3_latency", key)
        out.append(
            judge(
                f"Cluster idle start {key[:3]} within 10 % of one server",
                v,
                other,
                lambda a, b: a <= 1.1 * b,
                f"{fmt(v)} ms vs {fmt(other)} ms",
            )
        )
    return out


def noise_lines(data: dict[str, Any]) -> list[str]:
    results, systems = data["results"], data["systems"]
    runs = [
        (s, scen, raw.get("noise", {}))
        for s in systems
        for scen, r in results.get(s, {}).items()
        for raw in r.get("raw", [])
    ]
    cpu = sorted((n.get("other_cpu", 0.0), s, scen) for s, scen, n in runs if "other_cpu" in n)
    ping = sorted((n.get("ping_p99_ms", 0.0), s, scen) for s, scen, n in runs if "ping_p99_ms" in n)
    if not cpu:
        return ["(no noise figures)"]
    lines = [
        f"- Other processes' CPU during a run (fraction of the machine, {len(cpu)} runs): "
        f"median {cpu[len(cpu) // 2][0]:.1%}, max {cpu[-1][0]:.1%} ({cpu[-1][1]} {cpu[-1][2]}); "
        f"runs above {NOISY_OTHER_CPU:.0%}: {sum(1 for c in cpu if c[0] > NOISY_OTHER_CPU)} "
        "(their figures are marked † in the table).",
    ]
    if ping:
        lines.append(
            f"- PING p99 just before a run (200 PINGs, fresh connection): median "
            f"{ping[len(ping) // 2][0]:.3f} ms, max {ping[-1][0]:.3f} ms "
            f"({ping[-1][1]} {ping[-1][2]})."
        )
    lines += ["", "Per system and scenario, worst run: other CPU % / PING p99 ms.", ""]
    scens = [s for s in SCENARIOS if any(s in results.get(x, {}) for x in systems)]
    lines.append("| scenario | " + " | ".join(systems) + " |")
    lines.append("| --- " * (len(systems) + 1) + "|")
    for scen in scens:
        cells = []
        for s in systems:
            n = results.get(s, {}).get(scen, {}).get("noise")
            cells.append(f"{n['other_cpu_max']:.0%} / {n['ping_p99_ms_max']:.2f}" if n else "-")
        lines.append(f"| {scen} | " + " | ".join(cells) + " |")
    return lines


MAIN_KEYS = {
    "rate",
    "cpu_s_per_1000",
    "p50_ms",
    "p99_ms",
    "max_ms",
    "bytes_per_job",
    "runs",
    "samples",
    "failed_runs",
    "rate_offered",
}


def _in_order(scens: dict[str, Any]) -> list[tuple[str, Any]]:
    order = list(SCENARIOS)
    return sorted(scens.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)


def extra_figures(data: dict[str, Any]) -> list[str]:
    out = []
    for system in data["systems"]:
        for scen, r in _in_order(data["results"].get(system, {})):
            extra = {
                k: v
                for k, v in r.items()
                if k not in MAIN_KEYS
                and not k.startswith("_")
                and isinstance(v, int | float)
                and not isinstance(v, bool)
            }
            if extra:
                out.append(
                    f"- {system} {scen}: " + ", ".join(f"{k} {fmt(v)}" for k, v in extra.items())
                )
    return out or ["(none)"]


def notes(data: dict[str, Any]) -> list[str]:
    lines = []
    for system in data["systems"]:
        found: dict[str, list[str]] = {}
        for scen, r in _in_order(data["results"].get(system, {})):
            texts = [str(r[k]) for k in ("config", "note") if r.get(k)]
            if "error" in r:
                texts.append(f"ERROR: {r['error']}")
            elif "skip" in r:
                texts.append(f"skipped: {r['skip']}")
            for text in texts:
                found.setdefault(text, []).append(scen)
        lines.append(f"- **{system}**" + ("" if found else ": (no notes)"))
        lines += [f"  - {text} ({', '.join(scens)})" for text, scens in found.items()]
    return lines


def header(data: dict[str, Any]) -> list[str]:
    m, co, base = data["machine"], data["checkout"], data.get("baseline") or {}
    lines = [
        "# Benchmark results: chronoq vs peers (no-op jobs, local Redis)",
        "",
        "Generated by `bench/run.py`; do not edit by hand.",
        "",
    ]
    if data.get("merged"):
        lines += [
            "> **⚠ MERGED RESULTS - NOT ONE RUN.** Some figures below come from earlier runs "
            "kept with `--merge`, measured at other times under other load:",
            *[
                f"> - {m_['system']} {m_['scenario']}: from the run of {m_['date']}"
                for m_ in data["merged"]
            ],
            "",
        ]
    if data.get("quick"):
        lines += ["> **QUICK smoke run (small N, few systems): not a benchmark result.**", ""]
    lines += [
        f"- Reproduce: `{data['command']}` (from the project root; "
        f"about {data.get('wall_s', 0) / 60:.0f} min here)",
        f"- Date: {data['date']}; chronoq at {co.get('commit', '?')[:12]} "
        f"(src changes not committed: {co.get('src_dirty', '?')})",
        f"- Baseline: {base.get('system', 'none')} = {base.get('sha', '-')}",
        f"- Machine: {m['uname']}; CPU: {m['cpu']} ({m['cores']} cores); Python {m['python']}; "
        f"Redis server {m['redis']}",
        f"- Rounds: {data['repeat']} (every system x scenario once per round, order shuffled "
        f"per round with seed {data['seed']}); each figure is the median of its rounds",
    ]
    return lines


def write_report(data: dict[str, Any], path: Path) -> str:
    overrides = ", ".join(f"{s} {c} N={n}" for (s, c), n in N_OVERRIDE.items()) or "none"
    overrides += " (chronoq's N is its baseline's too: the same N on both sides of the A/B)"
    lines = [
        *header(data),
        "",
        "## Table",
        "",
        '↑ higher is better, ↓ lower is better. "chronoq vs best" is chronoq/best peer for ↑',
        "figures and best peer/chronoq for ↓ figures, so **> 1 always means chronoq is",
        "better**; the best peer never includes the baseline column. Cluster rows compare",
        "chronoq on the Cluster with chronoq on one server, same 3 queues (> 1: the Cluster",
        "is better). ERR = failed or timed out (see results.json), skip = the system has no",
        "such feature, - = not run. Delayed lateness ranks by magnitude. † = during at least",
        f"one run behind the figure, other processes used more than {NOISY_OTHER_CPU:.0%} of the machine.",
        "",
        *table(data),
        "",
        "Configurations, every system with results off (full config at the top of",
        "bench/systems/NAME.py; the baseline runs chronoq's runner and config):",
        "",
        *[f"- {s}: {CONFIGS[s]}" for s in data["systems"] if s in CONFIGS],
        "",
        "## Targets",
        "",
        "| target | status | figures |",
        "| --- | --- | --- |",
        *[f"| {d} | {s} | {f} |" for d, s, f in targets(data)],
        "",
        "## Noise",
        "",
        *noise_lines(data),
        "",
        "## Method",
        "",
        "As in bench/README.md (Method): one harness run of every system, rounds with",
        "shuffled order; processing = drain N pre-enqueued jobs, timed from the worker start",
        "command to the last job done, nothing subtracted; latency open loop (Poisson at",
        "100 jobs/s, enqueue wall time in the job, start wall time recorded by the task);",
        "delayed jobs due uniformly over 1-5 s; every peer with results off.",
        f"N: README defaults unless --quick; overrides: {overrides}.",
        "",
        "## Extra figures (medians)",
        "",
        *extra_figures(data),
        "",
        "## Configuration notes",
        "",
        *notes(data),
        "",
        *other_benchmarks(path.parent),
        "",
    ]
    text = "\n".join(lines)
    path.write_text(text)
    return text


def other_benchmarks(bench: Path) -> list[str]:
    """Headline figures of the scheduler and control benchmarks, from their own
    results.json (each has its full RESULTS.md and its own runner)."""
    lines = ["## Other benchmarks", ""]
    sched = bench / "scheduler" / "RESULTS.md"
    if sched.exists():
        lines.append(
            "- Scheduler (chronoq vs celery beat, celery-redbeat, arq cron, SAQ cron; "
            "lateness, missed runs, CPU and memory with 10,000 and 100,000 schedules): "
            "`bench/scheduler/RESULTS.md`, run with `python3 bench/scheduler/run.py`."
        )
    control = bench / "control" / "results.json"
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
