#!/usr/bin/env python3
"""Scheduler benchmark driver (stdlib only): chronoq vs celery beat, celery-redbeat,
arq cron and SAQ cron. Run from the project root:

    python3 bench/scheduler/run.py [--systems chronoq,celery,celery_redbeat,arq,saq]
        [--scenarios second,idle,many,minute] [--second 90] [--minute 180] [--idle 60]
        [--many-counts 10000,100000] [--many-duration 60] [--many-budget 600] [--db 6]
        [--quick]
    python3 bench/scheduler/run.py --report   # only regenerate RESULTS.md from results.json

Each runner `bench/scheduler/NAME.py SCENARIO --db DB --duration S [--count N]
[--budget S]` runs with
the venv bench/.venvs/VENV and prints one JSON object as its last stdout line.
results.json is rewritten after every runner (partial results survive an interruption),
and RESULTS.md with it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
RESULTS_JSON = os.path.join(HERE, "results.json")
RESULTS_MD = os.path.join(HERE, "RESULTS.md")
VENVS = {"chronoq": "chronoq", "celery": "celery", "celery_redbeat": "redbeat", "arq": "arq",
         "saq": "saq"}  # fmt: skip
LABELS = {"chronoq": "chronoq", "celery": "celery beat", "celery_redbeat": "celery-redbeat",
          "arq": "arq cron", "saq": "SAQ cron"}  # fmt: skip
PACKAGES = {"chronoq": "chronoq", "celery": "celery", "celery_redbeat": "celery-redbeat",
            "arq": "arq", "saq": "saq"}  # fmt: skip
SCENARIOS = ("second", "idle", "many", "minute")


def python_of(system: str) -> str:
    return os.path.join(BENCH, ".venvs", VENVS[system], "bin", "python")


def version_of(system: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({PACKAGES[system]!r}))"
    try:
        out = subprocess.run([python_of(system), "-c", code], capture_output=True, text=True,
                             timeout=30, check=True)  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def others_running() -> list[str]:
    """Command lines of other benchmark processes (e.g. bench/run.py) running now."""
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if "bench/run.py" in cmd or "bench/systems/" in cmd:
            found.append(cmd[:120])
    return found


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine() -> dict[str, object]:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        info = subprocess.run(["redis-cli", "-n", "6", "INFO", "server"], capture_output=True,
                              text=True, timeout=10, check=False).stdout  # fmt: skip
        redis_v = next((ln.split(":", 1)[1].strip() for ln in info.splitlines()
                        if ln.startswith("redis_version")), "?")  # fmt: skip
    except OSError:
        redis_v = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "redis": redis_v}  # fmt: skip


def run_one(system: str, scenario: str, db: int, duration: float, count: int | None,  # noqa: PLR0917
            timeout: float, extra: list[str] | None = None) -> dict[str, object]:  # fmt: skip
    cmd = [python_of(system), os.path.join(HERE, f"{system}.py"), scenario, "--db", str(db),
           "--duration", str(duration)]  # fmt: skip
    if count is not None:
        cmd += ["--count", str(count)]
    cmd += extra or []
    print(f"$ {shlex.join(cmd)}", file=sys.stderr, flush=True)
    others = others_running()
    load0 = loadavg()
    t = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, cwd=HERE, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    res: dict[str, object]
    if proc.returncode != 0 or not lines:
        res = {"error": f"rc {proc.returncode}: {proc.stderr.strip()[-600:]}"}
    else:
        try:
            res = json.loads(lines[-1])
        except json.JSONDecodeError:
            res = {"error": f"bad output: {lines[-1][:200]}"}
    res["elapsed_s"] = round(time.monotonic() - t, 1)
    res["load_before"] = load0
    res["load_after"] = loadavg()
    res["concurrent"] = sorted(set(others + others_running()))
    print(json.dumps(res), file=sys.stderr, flush=True)
    return res


# -- report -----------------------------------------------------------------------------


def _f(v: object, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _lat_row(label: str, r: dict[str, object] | None) -> str:
    if not r:
        return f"| {label} | - | - | - | - | - | - |"
    if "error" in r:
        return f"| {label} | error: {str(r['error'])[:80]} | | | | | |"
    return (
        f"| {label} | {_f(r.get('p50_ms'))} | {_f(r.get('p99_ms'))} | {_f(r.get('max_ms'))} "
        f"| {r.get('runs')}/{r.get('expected')} | {r.get('missed')} | {r.get('duplicated')} |"
    )


def _cpu(v: object) -> str:
    """CPU s/min; /proc ticks are 10 ms, so 0 means < 0.01 s over the window."""
    if isinstance(v, (int, float)) and v == 0:
        return "0 (< 1 tick)"
    return _f(v, 3)


def _share(d: object) -> str:
    if not isinstance(d, dict):
        return "-"
    return f"{_f(d.get('p50_ms'))}/{_f(d.get('p99_ms'))}/{_f(d.get('max_ms'))}"


def report(data: dict[str, object]) -> str:
    res: dict[str, dict[str, object]] = data.get("results", {})  # type: ignore[assignment]
    m: dict[str, object] = data.get("machine", {})  # type: ignore[assignment]
    systems = [s for s in VENVS if s in res]
    out = ["# Scheduler benchmark: chronoq vs celery beat, celery-redbeat, arq cron, SAQ cron",
           "",
           "Generated by `bench/scheduler/run.py` from `bench/scheduler/results.json`; method in",
           "`bench/scheduler/README.md`.", "",
           f"- Date: {data.get('date')} (finished {data.get('finished', 'not finished')})",
           f"- Machine: {m.get('cpu')}, {m.get('cores')} cores, Linux {m.get('kernel')}, "
           f"driver Python {m.get('python')}, Redis {m.get('redis')} (local, 127.0.0.1:6379)",
           f"- Command: `{data.get('command')}`",
           "- Versions: " + ", ".join(f"{LABELS[s]} {v}" for s, v in
                                      data.get("versions", {}).items()),  # type: ignore[union-attr]
           ""]  # fmt: skip

    def get(system: str, scenario: str) -> dict[str, object] | None:
        return res.get(system, {}).get(scenario)  # type: ignore[return-value]

    out += ["## 1. Per-second schedule: lateness from due time to job start (ms)", "",
            "| system | p50 | p99 | max | runs/expected | missed | duplicated |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    out += [_lat_row(LABELS[s], get(s, "second")) for s in systems]
    out += ["", "## 2. Per-minute schedule (`* * * * *`): lateness (ms)", "",
            "Few samples (one per minute, 3 in 180 s): p50 and p99 both pick the middle sample "
            "(index rule on 3 values); max is the worst of the three.", "",
            "| system | p50 | p99 | max | runs/expected | missed | duplicated |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    out += [_lat_row(LABELS[s], get(s, "minute")) for s in systems]
    out += ["", "## 3. Idle CPU (one schedule not due for an hour), CPU seconds per minute", "",
            "| system | scheduler process | worker process | measured |",
            "|---|---|---|---|"]  # fmt: skip
    what = {
        "chronoq": "`chronoq scheduler` alone; worker with scheduler=False",
        "celery": "`celery beat`; prefork worker -c 1 (+child)",
        "celery_redbeat": "`celery beat` (RedBeatScheduler); worker",
        "arq": "arq worker (cron runs in it)",
        "saq": "SAQ worker (cron runs in it)",
    }
    for s in systems:
        r = get(s, "idle")
        if not r:
            continue
        if "error" in r:
            out.append(f"| {LABELS[s]} | error: {str(r['error'])[:80]} | | |")
            continue
        out.append(
            f"| {LABELS[s]} | {_cpu(r.get('scheduler_cpu_s_per_min'))} "
            f"| {_cpu(r.get('worker_cpu_s_per_min'))} | {what[s]} |"
        )
    out += many_table(res, systems)
    supp = [(s, k, r) for s in systems for k, r in res[s].items() if "@" in k]
    if supp:
        out += ["", "## Supplementary runs", ""]
        out += [f"- `{x['command']}` ({x['date']})" for x in data.get("supplementary", [])]  # type: ignore[union-attr]
        out += ["", "| system / run | p50 | p99 | max | runs/expected | missed | duplicated "
                "| scheduler share: enqueued - due p50/p99/max ms "
                "| worker share: started - enqueued p50/p99/max ms |",
                "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for s, k, r in supp:
            lat = r.get("second") if k.startswith("many") else r
            row = _lat_row(f"{LABELS[s]} / {k}", lat)  # type: ignore[arg-type]
            out.append(
                row + f" {_share(r.get('enq_minus_due'))} | {_share(r.get('start_minus_enq'))} |"
            )
        out.append("")
        for s, k, r in supp:
            if k.startswith("many") and "error" not in r:
                out.append(
                    f"- {LABELS[s]} / {k}: add {_f(r.get('add_s'))} s, "
                    f"{_f(r.get('bytes_per_schedule'), 0)} B/schedule (used_memory), "
                    f"{_f(r.get('key_bytes_per_schedule'), 0)} (MEMORY USAGE); scheduler "
                    f"CPU s/min idle {_cpu(r.get('scheduler_cpu_s_per_min'))}, with the "
                    f"per-second run {_cpu(r.get('scheduler_cpu_s_per_min_persec'))}"
                )
    out += ["", "## Targets (chronoq)", ""]
    out += targets(res)
    out += ["", "## Conditions during the run", ""]
    for s in systems:
        for scen, r in res[s].items():
            if "@" in scen:
                out.append(
                    f"- {LABELS[s]} / {scen}: supplementary run by hand in DB 7 while "
                    "the main run went on in DB 6 (see Notes)"
                )
                continue
            conc = r.get("concurrent") or []
            note = f"; other benchmark processes running: {len(conc)}" if conc else ""
            out.append(
                f"- {LABELS[s]} / {scen}: load avg {r.get('load_before')} -> "
                f"{r.get('load_after')}, {r.get('elapsed_s')} s{note}"
            )
    notes = data.get("notes") or []
    out += ["", "## Notes", ""] + [f"- {n}" for n in notes]  # type: ignore[union-attr]
    return "\n".join(out) + "\n"


STORED = {
    "chronoq": "Redis (hashes + due ZSET under `{~sched}`), added at runtime",
    "celery": "beat process memory + shelve file; Redis: none",
    "celery_redbeat": "Redis (hash per entry + ZSET), synced from beat_schedule at start",
    "arq": "worker process memory (CronJob objects); Redis: none until due",
    "saq": "worker memory + one scheduled job per cron in Redis (enqueued each pass)",
}


def _startup(system: str, r: dict[str, object]) -> str:
    if system == "chronoq":
        return f"add {_f(r.get('add_s'))} ({_f(r.get('add_rate'), 0)}/s)"
    settled = r.get("settled_s")
    tail = f"settled {_f(settled)}" if settled is not None else "busy 60 s after ready"
    return (f"hook {_f(r.get('startup_s'))}, ready {_f(r.get('ready_s'))}, {tail} "
            f"(CPU {_f(r.get('startup_cpu_s'))})")  # fmt: skip


def many_table(res: dict[str, dict[str, object]], systems: list[str]) -> list[str]:
    rows: list[tuple[int, int, str]] = []
    for si, s in enumerate(systems):
        for key, r in res.get(s, {}).items():
            if not key.startswith("many") or "@" in key:
                continue
            n = int(key.split(":")[1])
            label = f"| {n} | {LABELS[s]} "
            if "error" in r:
                rows.append((n, si, label + f"| error: {str(r['error'])[:80]} |" + " |" * 9))
                continue
            if "not_ready_after_s" in r:
                rows.append((n, si, label + f"| not ready after {_f(r['not_ready_after_s'], 0)} s "
                             "(killed) |" + " |" * 9))  # fmt: skip
                continue
            sec: dict[str, object] = r.get("second") or {}  # type: ignore[assignment]
            if "skipped" in sec:
                persec = f"skipped: {sec['skipped']} | | "
            elif sec:
                behind = ("; never < 1 s late before the window"
                          if "persec_caught_up_s" in r and r["persec_caught_up_s"] is None
                          else "")  # fmt: skip
                persec = (f"{_share(sec)} | {sec.get('runs')}/{sec.get('expected')}, "
                          f"{sec.get('missed')}, {sec.get('duplicated')}{behind} | ")  # fmt: skip
            else:
                persec = "- | - | "
            rss = r.get("scheduler_rss_mb")
            fb = r.get("file_bytes_per_schedule")
            shelve = f" (shelve file {_f(fb, 0)})" if fb is not None else ""
            rows.append((n, si, label + (
                f"| {_startup(s, r)} "
                f"| {_f(r.get('bytes_per_schedule'), 0)}; {_f(r.get('key_bytes_per_schedule'), 0)}"
                f"{shelve} | {_cpu(r.get('scheduler_cpu_s_per_min'))} "
                f"| {_cpu(r.get('worker_cpu_s_per_min')) if 'worker_cpu_s_per_min' in r else '-'} "
                f"| {_f(rss, 0) if rss is not None else 'not measured'} "
                f"| {_f(r.get('redis_cpu_s_per_min'), 2)} "
                f"| {persec}{_cpu(r.get('scheduler_cpu_s_per_min_persec'))} "
                f"| {STORED[s]} |")))  # fmt: skip
    if not rows:
        return []
    return ["", "## 4. Many schedules stored (hourly each, none due during the run)", "",
            "Per system and N: start-up in s (chronoq: adding the N at runtime with "
            "`ScheduleStore.add`; peers, whose schedules are declared in code: launch -> the "
            "scheduler's start-up hook ran; -> every process ready; -> settled: >= 5 s "
            "after ready and the scheduler's first second under 0.5 s CPU, i.e. its "
            "start-up pass done; CPU: the scheduler's CPU s until then); Redis bytes/schedule as "
            "used_memory delta / N; MEMORY USAGE of the stored keys / N; CPU s/min "
            "(/proc, process group) over the window after that; scheduler RSS at the end of "
            "it; Redis server CPU over it (whole server). Per-second: a `* * * * * *` "
            "schedule next to the N (chronoq: added at runtime; peers: a restart with it "
            "declared too), measured like table 1 over the same window length.", "",
            "| schedules | system | start-up s | Redis bytes/schedule (used_memory; MEMORY "
            "USAGE) | scheduler CPU s/min idle | worker CPU s/min idle | scheduler RSS MB "
            "| Redis CPU s/min | per-second p50/p99/max ms | runs/expected, missed, dup "
            "| scheduler CPU s/min with per-second | where the schedules live |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"] + [
            row for _, _, row in sorted(rows, key=lambda x: (x[0], x[1]))]  # fmt: skip


def targets(res: dict[str, dict[str, object]]) -> list[str]:
    c = res.get("chronoq", {})
    lines = []
    for key in [k for k in c if k.split("@")[0] == "second"]:
        sec: dict[str, object] = c[key]  # type: ignore[assignment]
        if "p99_ms" in sec:
            ok = float(sec["p99_ms"]) < 3.0  # type: ignore[arg-type]
            lines.append(
                f"- Lateness p99 < 3 ms (per-second runs, {key}): {sec['p99_ms']} ms "
                f"-> **{'MET' if ok else 'MISSED'}**"
            )
    bad = []
    for key, r in c.items():
        for part in (r, r.get("second") if isinstance(r, dict) else None):  # type: ignore[union-attr]
            if isinstance(part, dict) and (part.get("missed") or part.get("duplicated")):
                bad.append(f"{key}: missed {part.get('missed')}, "
                           f"duplicated {part.get('duplicated')}")  # fmt: skip
    checked = [k for k, r in c.items() if isinstance(r, dict) and
               ("missed" in r or "second" in r)]  # fmt: skip
    if checked:
        lines.append(
            f"- No missed or duplicated runs ({', '.join(checked)}): "
            + ("**MISSED** (" + "; ".join(bad) + ")" if bad else "**MET**")
        )
    many = sorted(((int(k.split(":")[1]), r) for k, r in c.items() if k.startswith("many")
                   and "@" not in k and "error" not in r), key=lambda x: x[0])  # fmt: skip
    if len(many) >= 2:
        (n1, r1), (n2, r2) = many[0], many[-1]
        ratio_n = n2 / n1
        parts = []
        verdict = True
        for key in ("scheduler_cpu_s_per_min", "scheduler_cpu_s_per_min_persec"):
            a, b = float(r1.get(key) or 0), float(r2.get(key) or 0)  # type: ignore[arg-type]
            grows = b > 0.02 and b > a * ratio_n * 0.5  # at least half of linear growth
            verdict = verdict and not grows
            parts.append(f"{key} {a:.3f} -> {b:.3f}")
        lines.append(
            f"- Tick cost not growing linearly with schedules ({n1} -> {n2}, x"
            f"{ratio_n:.0f}): {'; '.join(parts)} -> **{'MET' if verdict else 'MISSED'}**"
        )
    return lines or ["- (no chronoq results yet)"]


NOTES = [
    "Lateness = job start (`time.time()` at the top of the task, RPUSHed to a list in the "
    "system's Redis DB) minus the run's due time. arq passes the due time in its cron job "
    "id, SAQ in `job.scheduled`, celery/redbeat through a scheduler subclass that adds "
    "`due = now + schedule.remaining_estimate(last_run_at)` as a kwarg just before sending; "
    "chronoq (task cannot see its due time) and celery's crontab are matched to the "
    "period boundary at or just before the start (floor(start + 0.1 s)), i.e. this "
    "assumes lateness in [-0.1 s, period - 0.1 s).",
    "Window: the first whole period >= 3 s after every process reported ready; "
    "the list is cleared half a period before, read 3 s (10 s per-minute) after the end. "
    "Missed = due times in the window with no start; duplicated = extra starts of a due "
    "time.",
    "celery beat's `timedelta(seconds=1)` schedule is relative to the last send (next due "
    "= last_run_at + 1 s): due times drift off the wall-clock second and the run count "
    "over the window is below one per second; lateness is measured from beat's own due "
    "time, missed = gaps > 1.5 s between consecutive due times.",
    "arq cron uses `microsecond=0` (arq's default 123456 aims runs at .123 s past the "
    "second); poll_delay default 0.5 s.",
    "Idle CPU: utime+stime(+cutime+cstime) from /proc/PID/stat summed over the process "
    "group, over the duration after a 5 s settle, scaled to 60 s; the clock tick is "
    "10 ms, so over 60 s the resolution is 0.01 s/min and 0 means no tick was charged. "
    "chronoq's scheduler is measured as `chronoq scheduler` alone (a worker runs the "
    "same loop by default); "
    "arq and SAQ run cron inside the worker, so their worker = scheduler.",
    "celery-redbeat venv: bench/.venvs/redbeat (celery 5.7.0 pins of the celery peer + "
    "celery-redbeat, `celery_redbeat.requirements.txt`); the celery peer venv was left "
    "unchanged because another benchmark uses it. Runner named celery_redbeat.py because "
    "redbeat.py would shadow the package.",
    "Many schedules (table 4), method: chronoq's N are added at runtime (ScheduleStore.add) "
    "to a running Redis; the peers declare theirs in code, so N comes from an env var read "
    "by the app module (celery_app.py, arq_app.py, saq_app.py) and start-up is part of "
    "the cost. Each peer's DB is FLUSHed first; CPU is measured like table 3 over "
    "`--many-duration` s, but only after the scheduler's start-up pass is over (>= 5 s "
    "after ready and a whole second under 0.5 s CPU, at most 60 s after ready: "
    "'busy 60 s after ready' means it never got there and the window shows its steady state). "
    "The per-second phase is a restart of the same processes with the per-second "
    "schedule declared as well (state kept: shelve file, Redis keys), settled the same "
    "way, then given up to 60 s more until one of its runs starts < 1 s after its due "
    "time (so a start-up backlog is not counted as steady lateness). A start-up longer "
    "than `--many-budget` s (600) is recorded as such instead of a number.",
    "Many schedules, how each stores them: chronoq: in Redis (definition, meta and due "
    "time per schedule in hashes and a ZSET under `{~sched}`); the loop sleeps until the "
    "next due time in the ZSET or a published change, it does not poll or scan the N. "
    "celery beat (PersistentScheduler): `beat_schedule` is merged into a shelve file at "
    "start and held as a dict in the beat process, Redis holds none (Redis bytes ~0: the "
    "used_memory delta is noise from client buffers; the shelve file size / N is shown); "
    "beat sleeps until the heap's next due time or 300 s (beat_max_loop_interval), but "
    "every tick compares all N entries with a copy and, whenever one changed (every "
    "send), recomputes is_due for all N to rebuild its heap; with nothing due it also "
    "syncs (pickles) the whole shelve at most every 3 min, on a wake-up. A 60 s window "
    "can miss beat's 300 s wake-ups entirely (see the longer run below). celery-redbeat: at start "
    "each entry is read and written back (hash `redbeat:<name>` with definition + meta, "
    "member of ZSET `redbeat::schedule` scored by next due, set `redbeat::statics`), "
    "2 round trips per entry; each tick loads only the due entries and the next one. "
    "arq: CronJob objects in the worker, next run computed at the first poll; every poll "
    "(0.5 s) loops over all N; nothing in Redis until a run is within 1 s (job id "
    "`cron:<name>:<ms>`); arq cron jobs need distinct names (`cron:s<i>`). SAQ: a unique "
    "cron job is keyed by its function's qualname, so N schedules are N functions "
    "(`s<i>`); every pass of the 1 s schedule timer runs croniter and one enqueue script "
    "per cron job, one after the other, which stores each job in Redis until due (job "
    "string + ZSET member: the Redis bytes/schedule) and makes the pass O(N) round "
    "trips.",
    "Many schedules, RSS = VmRSS of the scheduler process group at the end of the CPU "
    "window (beat alone; the arq/SAQ worker); not measured for chronoq (its `many` rows "
    "were recorded before the column existed). Redis CPU = INFO cpu delta of the whole "
    "server over the window (includes the worker's polling and anything else running).",
]


SUPPLEMENTARY = os.path.join(HERE, "results_supplementary.json")


def merge_supplementary(data: dict[str, object]) -> None:
    """Runs made by hand while the main run was going (one runner each, its own DB):
    results_supplementary.json = [{"system", "key", "command", "date", "result"}]."""
    if not os.path.exists(SUPPLEMENTARY):
        return
    with open(SUPPLEMENTARY) as f:
        entries = json.load(f)
    data["supplementary"] = [{"command": e["command"], "date": e["date"]} for e in entries]
    for e in entries:
        data["results"].setdefault(e["system"], {})[e["key"]] = e["result"]  # type: ignore[union-attr]


def write(data: dict[str, object]) -> None:
    with open(RESULTS_JSON, "w") as f:
        json.dump(data, f, indent=1)
    with open(RESULTS_MD, "w") as f:
        f.write(report(data))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--systems", default=",".join(VENVS))
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--second", type=float, default=90)
    p.add_argument("--minute", type=float, default=180)
    p.add_argument("--idle", type=float, default=60)
    p.add_argument("--many-counts", default="10000,100000")
    p.add_argument("--many-duration", type=float, default=60)
    p.add_argument("--many-budget", type=float, default=600,
                   help="many, peers: s a start-up may take, else recorded")  # fmt: skip
    p.add_argument("--db", type=int, default=6)
    p.add_argument("--quick", action="store_true", help="short runs for development")
    p.add_argument("--report", action="store_true", help="only regenerate RESULTS.md")
    p.add_argument("--note", action="append", default=[], help="extra note for RESULTS.md")
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep other systems'/scenarios' results from results.json",
    )
    p.add_argument(
        "--merge",
        metavar="TAG",
        default=None,
        help="add to the existing results.json under SCENARIO@TAG (supplementary)",
    )
    a = p.parse_args()
    if a.report:
        with open(RESULTS_JSON) as f:
            data = json.load(f)
        merge_supplementary(data)
        data["notes"] = NOTES + data.get("extra_notes", [])
        write(data)
        return
    if not 6 <= a.db <= 9:
        p.error("use Redis DB 6..9")
    if a.quick:
        a.second, a.minute, a.idle, a.many_duration = 8, 60, 5, 5
        a.many_counts = "1000,5000"
    systems = [s for s in a.systems.split(",") if s]
    scenarios = [s for s in a.scenarios.split(",") if s]
    data: dict[str, object] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python3", "bench/scheduler/run.py", *sys.argv[1:]]),
        "machine": machine(),
        "versions": {s: version_of(s) for s in systems},
        "results": {},
        "extra_notes": a.note,
        "notes": NOTES + a.note,
    }
    if a.keep and not a.merge and os.path.exists(RESULTS_JSON):
        with open(RESULTS_JSON) as f:
            kept = json.load(f)
        data["results"] = kept.get("results", {})
        data["versions"] = {**kept.get("versions", {}), **data["versions"]}  # type: ignore[dict-item]
        data["command"] = f"{kept.get('command', '')}; then {data['command']}"
    if a.merge:
        with open(RESULTS_JSON) as f:
            old = json.load(f)
        old.setdefault("supplementary", []).append(
            {"command": data["command"], "date": data["date"], "tag": a.merge}
        )
        old["extra_notes"] = old.get("extra_notes", []) + a.note
        old["notes"] = NOTES + old["extra_notes"]
        data = old
    tag = f"@{a.merge}" if a.merge else ""
    results: dict[str, dict[str, object]] = data["results"]  # type: ignore[assignment]
    for scenario in scenarios:
        for system in systems:
            if scenario == "many":
                for count in (int(c) for c in a.many_counts.split(",") if c):
                    if system == "chronoq":
                        r = run_one(system, "many", a.db, a.many_duration, count,
                                    timeout=900 + count / 100)  # fmt: skip
                    else:  # two start-ups of up to --many-budget s each, settles, windows
                        timeout = 2 * (a.many_budget + 200) + 2 * a.many_duration + count / 500
                        r = run_one(system, "many", a.db, a.many_duration, count, timeout=timeout,
                                    extra=["--budget", str(a.many_budget)])  # fmt: skip
                    results.setdefault(system, {})[f"many:{count}{tag}"] = r
                    write(data)
                continue
            duration = {"second": a.second, "minute": a.minute, "idle": a.idle}[scenario]
            r = run_one(system, scenario, a.db, duration, None, timeout=duration + 180)
            results.setdefault(system, {})[scenario + tag] = r
            write(data)
    if not a.merge:
        data["finished"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    write(data)


if __name__ == "__main__":
    main()
