"""celery beat scheduler runner (bench/scheduler/README.md); also used by redbeat.py.

One `celery -A celery_app worker -P prefork -c 1` (prefork, 1 child) and one
`celery -A celery_app beat -S celery_app.DueScheduler` (PersistentScheduler + due kwarg;
schedule file in a temp dir), default beat max loop interval. The beat process is the
measured scheduler (idle); the worker is reported separately.
second: `timedelta(seconds=1)`: celery's interval schedule is relative to the last send
(next due = last_run_at + 1 s), so due times drift off the wall-clock second by beat's own
lateness each run; lateness is from that due time (passed as a kwarg) and missed runs
are gaps > 1.5 s between consecutive due times (grid=False).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
import celery  # noqa: E402, F401

sys.path.append(_HERE)
import _sched  # noqa: E402
from _sched import READY, bin_path, start_proc, sync_redis  # noqa: E402


def main(system: str = "celery") -> None:
    args = _sched.parse_args()
    env = {"SCHED_DB": str(args.db), "SCHED_SCENARIO": args.scenario, "SCHED_SYSTEM": system}
    r = sync_redis(args.db)
    tmp = tempfile.mkdtemp(prefix=f"sched-{system}-")
    cli = bin_path("celery")
    sched_cls = "celery_app." + ("DueRedBeatScheduler" if system == "redbeat" else "DueScheduler")

    def start():  # type: ignore[no-untyped-def]
        worker = [cli, "-A", "celery_app", "worker", "-P", "prefork", "-c", "1", "-l", "warning"]
        beat = [cli, "-A", "celery_app", "beat", "-S", sched_cls, "-l", "warning",
                "-s", os.path.join(tmp, "celerybeat-schedule"),
                "--pidfile", os.path.join(tmp, "beat.pid")]  # fmt: skip
        return {"worker": start_proc(worker, env), "scheduler": start_proc(beat, env)}

    try:
        _sched.run_scenario(
            args,
            start,
            lambda: int(r.get(READY) or 0) >= 2,
            config=f"celery worker -P prefork -c 1 + celery beat -S {sched_cls}",
            grid=args.scenario != "second",
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
