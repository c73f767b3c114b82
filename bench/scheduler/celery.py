"""celery beat scheduler runner (bench/scheduler/README.md); also used by redbeat.py.

One `celery -A celery_app worker -P prefork -c 1` (prefork, 1 child) and one
`celery -A celery_app beat -S celery_app.DueScheduler` (PersistentScheduler + due kwarg;
schedule file in a temp dir), default beat max loop interval. The beat process is the
measured scheduler (idle); the worker is reported separately.
second: `timedelta(seconds=1)`: celery's interval schedule is relative to the last send
(next due = last_run_at + 1 s), so due times drift off the wall-clock second by beat's own
lateness each run; lateness is from that due time (passed as a kwarg) and missed runs
are gaps > 1.5 s between consecutive due times (grid=False).
many: the same processes, `--count` beat_schedule entries `timedelta(hours=1)` built in
celery_app.py (SCHED_COUNT); `_sched.run_many` (phase 2 restarts with the per-second
`tick` added, the schedule file / redbeat keys kept). Extra figures: size of beat's
shelve schedule file (PersistentScheduler) / N.
"""

from __future__ import annotations

import glob
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

    def start(persec: bool = False):  # type: ignore[no-untyped-def]
        e = {**env, "SCHED_COUNT": str(args.count), "SCHED_PERSEC": "1" if persec else "0"}
        worker = [cli, "-A", "celery_app", "worker", "-P", "prefork", "-c", "1", "-l", "warning"]
        beat = [cli, "-A", "celery_app", "beat", "-S", sched_cls, "-l", "warning",
                "-s", os.path.join(tmp, "celerybeat-schedule"),
                "--pidfile", os.path.join(tmp, "beat.pid")]  # fmt: skip
        return {"worker": start_proc(worker, e), "scheduler": start_proc(beat, e)}

    def schedule_file() -> dict[str, object]:
        size = sum(os.path.getsize(f) for f in glob.glob(os.path.join(tmp, "celerybeat-schedule*")))
        return {"file_bytes_per_schedule": round(size / args.count, 1)}

    def drop_lock() -> dict[str, object]:
        # a beat killed after the 30 s grace would leave redbeat's lock (timeout 1500 s)
        return {"lock_left_by_phase1": bool(r.delete("redbeat::lock"))}

    config = f"celery worker -P prefork -c 1 + celery beat -S {sched_cls}"
    if args.scenario == "many":
        try:
            _sched.run_many(
                args,
                start,
                2,
                config=config + "; N x timedelta(hours=1) in beat_schedule",
                grid=False,
                extra=schedule_file if system == "celery" else None,
                before_restart=drop_lock if system == "redbeat" else None,
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    try:
        _sched.run_scenario(
            args,
            start,
            lambda: int(r.get(READY) or 0) >= 2,
            config=config,
            grid=args.scenario != "second",
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
