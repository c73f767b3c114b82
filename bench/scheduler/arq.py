"""arq cron scheduler runner (bench/scheduler/README.md): one `arq arq_app.WorkerSettings`
worker (cron runs inside the worker; defaults, poll_delay 0.5 s). The worker is the
measured scheduler process.
many: `--count` hourly cron jobs declared in the app module, `_sched.run_many`."""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
import arq  # noqa: E402, F401

sys.path.append(_HERE)
import _sched  # noqa: E402
from _sched import READY, bin_path, start_proc, sync_redis  # noqa: E402

if __name__ == "__main__":
    args = _sched.parse_args()
    env = {"SCHED_DB": str(args.db), "SCHED_SCENARIO": args.scenario}
    r = sync_redis(args.db)
    config = "arq worker, cron in the worker, defaults (poll_delay 0.5 s), microsecond=0"

    def start(persec: bool = False):  # type: ignore[no-untyped-def]
        e = {**env, "SCHED_COUNT": str(args.count), "SCHED_PERSEC": "1" if persec else "0"}
        return {"scheduler": start_proc([bin_path("arq"), "arq_app.WorkerSettings"], e)}

    if args.scenario == "many":
        _sched.run_many(args, start, 1, config=config + "; N hourly cron jobs")
    else:
        _sched.run_scenario(args, start, lambda: int(r.get(READY) or 0) >= 1, config=config)
