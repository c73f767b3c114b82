"""celery-redbeat scheduler runner (named celery_redbeat.py: `redbeat.py` would shadow
the package for `celery -A` with cwd = bench/scheduler): celery.py with
`-S celery_app.DueRedBeatScheduler`
(RedBeatScheduler + due kwarg, redbeat_redis_url = the same DB, default lock and max
interval). Venv: bench/.venvs/redbeat (celery 5.7.0 pins + celery-redbeat; see
celery_redbeat.requirements.txt)."""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
import celery  # noqa: E402, F401

sys.path.append(_HERE)
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location("celery_runner", os.path.join(_HERE, "celery.py"))
assert _spec and _spec.loader
_runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_runner)

if __name__ == "__main__":
    _runner.main("redbeat")
