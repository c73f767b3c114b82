"""The benchmark harness's spec: every scenario it runs shows up in RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from harness.spec import BASELINE_ROWS, FIGURES, SCENARIOS


def test_every_scenario_the_harness_runs_has_a_row() -> None:
    """A run's figures must all reach the table (a change to the rows once dropped the
    delayed-lateness and memory rows while their scenarios still ran)."""
    shown = {f.scenario for f in FIGURES} | {s for _, s in BASELINE_ROWS}
    compared_with = {f.versus for f in FIGURES} | {f.peer_scenario for f in FIGURES}
    assert set(SCENARIOS) - shown - compared_with == set()


def test_row_labels_are_unique() -> None:
    labels = [f.label for f in FIGURES] + [label for label, _ in BASELINE_ROWS]
    assert len(labels) == len(set(labels))
