"""The benchmark harness's spec: every scenario it runs shows up in RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from harness.spec import BASELINE_ROWS, FIGURES, SCENARIOS, run_n


def test_every_scenario_the_harness_runs_has_a_row() -> None:
    """A run's figures must all reach the table (a change to the rows once dropped the
    delayed-lateness and memory rows while their scenarios still ran)."""
    shown = {f.scenario for f in FIGURES} | {s for _, s in BASELINE_ROWS}
    compared_with = {f.versus for f in FIGURES} | {f.peer_scenario for f in FIGURES}
    assert set(SCENARIOS) - shown - compared_with == set()


def test_row_labels_are_unique() -> None:
    labels = [f.label for f in FIGURES] + [label for label, _ in BASELINE_ROWS]
    assert len(labels) == len(set(labels))


def test_latency_n_sets_every_idle_start_run_and_nothing_else() -> None:
    for system in ("chronoq", "chronoq@abc1234", "huey"):
        for scenario in ("latency", "latency_sync", "single3_latency", "cluster_latency"):
            assert run_n(system, scenario, quick=False, latency_n=2000) == 2000
            assert run_n(system, scenario, quick=False, latency_n=None) is None
    assert run_n("chronoq", "process", quick=False, latency_n=2000) == 100_000
    assert run_n("huey", "delayed", quick=False, latency_n=2000) is None
    assert run_n("huey", "latency", quick=True, latency_n=2000) == SCENARIOS["latency"].quick_n
