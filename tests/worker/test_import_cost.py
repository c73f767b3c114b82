"""A worker's start-up does not import the notification clients (httpx,
aiosmtplib): they load where an alert is actually sent (observe/channels.py); nor
the alert engine and the metrics behind it (Prometheus' client): they load when
the first alert round is due (worker/alerting.py); nor the stores and handles it does
not use (chronoq.redis.backend, chronoq.app.application, chronoq.manage)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path


def loaded_after(imports: str, names: tuple[str, ...]) -> list[str]:
    """Which of `names` a fresh interpreter holds after `import <imports>`."""
    found = f"[m for m in {names!r} if m in sys.modules]"
    probe = f"import json, sys, {imports}\nprint(json.dumps({found}))"
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = json.loads(run.stdout)
    return loaded


def test_importing_the_worker_leaves_the_notification_clients_unloaded() -> None:
    clients = ("httpx", "aiosmtplib")
    assert loaded_after("chronoq.worker, chronoq.observe.channels", clients) == []


def test_importing_the_worker_leaves_the_alert_engine_and_prometheus_unloaded() -> None:
    names = ("chronoq.observe.alerts", "chronoq.observe.metrics", "prometheus_client")
    assert loaded_after("chronoq.worker, chronoq.app", names) == []


def test_importing_the_worker_leaves_the_stores_and_handles_it_does_not_use_unloaded() -> None:
    """The Backend's stores and the App's handles load on first use (a worker's start-up
    is mostly imports); asked for, they load."""
    names = (
        "chronoq.manage.schedules",
        "chronoq.manage.alerts",
        "chronoq.redis.alerts",
        "chronoq.redis.history",
        "chronoq.redis.snapshot",
        "chronoq.redis.operations",
        "chronoq.redis.campaigns",
        "chronoq.redis.lock_registry",
    )
    assert loaded_after("chronoq.worker, chronoq.app", names) == []
    asked = "chronoq.app; chronoq.app.App('a').schedules()"
    assert loaded_after(asked, names[:1]) == ["chronoq.manage.schedules"]


def test_chronoq_manage_names_every_lazy_export_once() -> None:
    from chronoq import manage

    assert set(manage.__all__) == set(manage._MODULES) - {"_Opened", "_SyncFacade"} | set(
        manage._HANDLES
    )
    for name in manage.__all__:
        assert getattr(manage, name) is not None
    # the names type checkers read (the TYPE_CHECKING imports) are the table's
    tree = ast.parse(Path(manage.__file__).read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    imported = {
        alias.name: str(node.module).rsplit(".", 1)[1]
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == {n: m for n, m in manage._MODULES.items() if not n.startswith("_")}


def test_the_import_pauses_the_collector_then_restores_its_state() -> None:
    """chronoq.core.startup: collected as before afterwards, the import's objects frozen;
    a process that turned the collector off keeps it off (and nothing is frozen)."""
    probe = (
        "import gc, sys\n"
        "off = sys.argv[1] == 'off'\n"
        "if off: gc.disable()\n"
        "import chronoq.worker\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 10_000)\n"
    )
    for state, expected in (("on", "True True"), ("off", "False False")):
        run = subprocess.run(
            [sys.executable, "-c", probe, state],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert run.stdout.strip() == expected
