"""Workflows: chains of steps with delays, fan-out and fan-in, stored in Redis and
run exactly once per step (see `chronoq.workflows.engine`)."""

from chronoq.workflows.engine import SyncWorkflows, Workflows
from chronoq.workflows.model import Chain, FanOut, Step, fan_out

__all__ = ["Chain", "FanOut", "Step", "SyncWorkflows", "Workflows", "fan_out"]
