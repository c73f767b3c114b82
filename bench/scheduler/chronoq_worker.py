"""A chronoq worker without its scheduler loop (WorkerOptions(scheduler=False)), for the
idle/many scenarios, where `chronoq scheduler` runs alone and is measured by itself."""

from __future__ import annotations

import asyncio
import os
import sys

# bench/scheduler holds chronoq.py (the runner): import the real package first
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
from chronoq.worker import Worker, WorkerOptions, run_until_signalled  # noqa: E402

sys.path.append(_HERE)
from chronoq_app import app  # noqa: E402

if __name__ == "__main__":
    asyncio.run(run_until_signalled(Worker(app, WorkerOptions(scheduler=False))))
