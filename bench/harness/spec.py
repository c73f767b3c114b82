"""What the bench runs: scenarios, their sizes, and the rows of the table."""

from __future__ import annotations

from dataclasses import dataclass

PEERS = ["arq", "saq", "taskiq", "rq", "celery", "dramatiq", "huey"]
# Each peer's only client kind: chronoq has both, so its like-for-like latency rows set
# its SyncClient against the sync peers and its async Client against the async ones.
SYNC_PEERS = ("rq", "celery", "dramatiq", "huey")
ASYNC_PEERS = ("arq", "saq", "taskiq")
ALL_SYSTEMS = ["chronoq", *PEERS]
DBS = list(range(10, 16))


@dataclass(frozen=True)
class Scenario:
    id: str
    runner: str  # the runner's scenario argument
    args: tuple[str, ...] = ()
    quick_n: int | None = None
    quick_args: tuple[str, ...] = ()
    chronoq_only: bool = False  # the current tree's chronoq only (not peers, not baseline)
    cluster: bool = False  # against the bench's own 3-master Cluster
    seeded: bool = False  # gets the round's arrival-plan seed


SCENARIOS = {
    s.id: s
    for s in [
        Scenario("enqueue_sync", "enqueue_sync", quick_n=1000),
        Scenario("enqueue_async", "enqueue_async", quick_n=1000),
        Scenario("enqueue_bulk", "enqueue_bulk", quick_n=10000),
        Scenario("process", "process", ("--procs", "1"), quick_n=5000),
        Scenario("process2", "process", ("--procs", "2"), quick_n=5000),
        Scenario("latency", "latency", quick_n=100, seeded=True),
        Scenario(
            "latency_sync",
            "latency",
            ("--stamp-client", "sync"),
            quick_n=100,
            chronoq_only=True,
            seeded=True,
        ),
        Scenario("delayed", "delayed", quick_n=50, quick_args=("--spread", "2"), seeded=True),
        Scenario("memory", "memory", quick_n=2000),
        Scenario(
            "single3_process", "process", ("--procs", "1", "--queues", "3"), 5000, chronoq_only=True
        ),
        Scenario(
            "single3_latency", "latency", ("--queues", "3"), 100, chronoq_only=True, seeded=True
        ),
        Scenario(
            "cluster_process",
            "process",
            ("--procs", "1", "--queues", "3"),
            5000,
            chronoq_only=True,
            cluster=True,
        ),
        Scenario(
            "cluster_latency",
            "latency",
            ("--queues", "3"),
            100,
            chronoq_only=True,
            cluster=True,
            seeded=True,
        ),
    ]
}
# N per run is chosen so that each system's processing run lasts seconds, worker
# start-up a small part of it. rq runs one job at a time per worker process (~150-300
# no-ops/s here): N=20000 would take 1-2 minutes per run; its rate hardly depends on
# N, so it gets a smaller one. chronoq (and its baseline, `chronoq@REF`, the same N)
# drains 20000 no-ops in about a second, a third of it the worker process starting
# (interpreter, imports, connections: ~0.3 s): that measured start-up, not processing,
# so it gets N=100000 (3-5 s, as the fastest peers' 20000). The Cluster processing row
# and the single-server row it is compared with get it too, so that they time
# processing rather than start-up (a Cluster worker's is longer: it maps the slots and
# connects to 3 nodes).
N_OVERRIDE: dict[tuple[str, str], int] = {
    ("rq", "process"): 5000,
    ("rq", "process2"): 5000,
    ("chronoq", "process"): 100_000,
    ("chronoq", "process2"): 100_000,
    ("chronoq", "single3_process"): 100_000,
    ("chronoq", "cluster_process"): 100_000,
}


def n_override(system: str, scenario: str) -> int | None:
    """The N of (system, scenario) when not the scenario's own; `chronoq@REF` (the
    baseline) runs with chronoq's."""
    return N_OVERRIDE.get((system.split("@", 1)[0], scenario))


def run_n(system: str, scenario: str, *, quick: bool, latency_n: int | None) -> int | None:
    """The N one run is given (None: the runner's default, bench/systems/_common.py).

    `latency_n` sets it for every scenario of the `latency` runner (idle start, on one
    server or a Cluster), every system alike: at the runner's 500 jobs a round's p99
    is its 5th-longest job, and one stall of the VM moves it (bench/README.md)."""
    spec = SCENARIOS[scenario]
    n = n_override(system, scenario)
    if latency_n is not None and spec.runner == "latency":
        n = latency_n
    if quick:
        n = min(n or spec.quick_n or 0, spec.quick_n or 0) or None
    return n


@dataclass(frozen=True)
class Figure:
    label: str
    scenario: str
    key: str
    higher: bool  # higher is better
    versus: str | None = None  # cluster rows: compared with this scenario, not with peers
    # like-for-like rows: chronoq's figure from `scenario`, these peers' from `peer_scenario`
    peers: tuple[str, ...] | None = None
    peer_scenario: str | None = None


FIGURES = [
    Figure("enqueue single, sync (jobs/s)", "enqueue_sync", "rate", True),
    Figure("enqueue single, async (jobs/s)", "enqueue_async", "rate", True),
    Figure("enqueue bulk, sync (jobs/s)", "enqueue_bulk", "rate", True),
    Figure("process, 1 process (jobs/s)", "process", "rate", True),
    Figure("process, whole machine P=2 (jobs/s)", "process2", "rate", True),
    Figure("worker CPU, 1 process (s/1000 jobs)", "process", "cpu_s_per_1000", False),
    Figure("worker CPU, P=2 (s/1000 jobs)", "process2", "cpu_s_per_1000", False),
    Figure("idle enqueue-to-start p50 (ms)", "latency", "p50_ms", False),
    Figure("idle enqueue-to-start p99 (ms)", "latency", "p99_ms", False),
    Figure("idle enqueue-to-start max (ms)", "latency", "max_ms", False),
    *(
        Figure(
            f"idle start {key[:3]}, {kind} clients (ms)",
            scen,
            key,
            False,
            peers=peers,
            peer_scenario="latency",
        )
        for kind, scen, peers in (
            ("async", "latency", ASYNC_PEERS),
            ("sync", "latency_sync", SYNC_PEERS),
        )
        for key in ("p50_ms", "p99_ms")
    ),
    Figure("delayed lateness p50 (ms)", "delayed", "p50_ms", False),
    Figure("delayed lateness p99 (ms)", "delayed", "p99_ms", False),
    Figure("delayed lateness max (ms)", "delayed", "max_ms", False),
    Figure("bytes per waiting job", "memory", "bytes_per_job", False),
    Figure(
        "cluster: processing, 1 process (jobs/s)",
        "cluster_process",
        "rate",
        True,
        versus="single3_process",
    ),
    Figure(
        "cluster: idle start p50 (ms)", "cluster_latency", "p50_ms", False, versus="single3_latency"
    ),
    Figure(
        "cluster: idle start p99 (ms)", "cluster_latency", "p99_ms", False, versus="single3_latency"
    ),
]
BASELINE_ROWS = [  # (label, scenario): chronoq rate / baseline rate
    ("processing vs baseline, 1 process", "process"),
    ("processing vs baseline, P=2", "process2"),
]
NOISY_OTHER_CPU = 0.10  # a run during which other processes used > 10 % of the machine

# one line per system for RESULTS.md; the full config is at the top of bench/systems/NAME.py
CONFIGS = {
    "chronoq": "Worker defaults (concurrency 256, batch 256, blocking doorbell); keep_result=0 "
    "(no result); finished records kept retention=1 s (always written)",
    "arq": "Worker defaults (max_jobs 10), poll_delay 50 ms (default 500 ms; arq only polls), "
    "keep_result=0",
    "saq": "Worker defaults (concurrency 10, BLMOVE dequeue); every job ttl=-1 (no record, no result)",
    "taskiq": "taskiq worker defaults (max-async-tasks 100), ListQueueBroker (BRPOP), no result backend",
    "rq": "rq worker --worker-class SimpleWorker (RQ's performance notes: for very short jobs); "
    "every job result_ttl=0 (deleted at the finish)",
    "celery": "prefork, worker_prefetch_multiplier 64 (Celery's optimizing guide for short tasks), "
    "task_ignore_result, no backend",
    "dramatiq": "defaults (-t 8 threads per process), RedisBroker, no Results middleware",
    "huey": "RedisHuey(results=False), blocking BRPOP, -k thread (P=1) / -k process (P=2)",
}
