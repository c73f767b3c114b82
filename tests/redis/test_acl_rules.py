"""The ACL rules the README states are the ones the tests run under (tests/acl_rules.py),
and they grant every command the Lua scripts of each role call, on keys and channels
that cover every name chronoq makes. (tests/worker/test_acl.py runs the roles live.)"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources
from pathlib import Path

import pytest

from chronoq.redis.keys import Keyspace
from tests.acl_rules import ROLES

README = Path(__file__).resolve().parents[2] / "README.md"
SETUSER = re.compile(r"^ACL SETUSER chronoq-(\w+) on >[A-Z_]+ (.+)$", re.MULTILINE)
# The scripts each role runs. A worker runs every script but the operator's three
# (cancel, requeue_dead, purge_dead); the README says operators use the worker's rules.
SCRIPTS_OF = {
    "worker": "*",
    "producer": {"enqueue"},
    "viewer": set(),
}
_CALL = re.compile(r"redis\.p?call\('(\w+)'")
_LIB_FUNCTION = re.compile(r"^local function (\w+)\(.*?^end", re.DOTALL | re.MULTILINE)


def granted_commands(rules: str) -> set[str]:
    return {token[1:].lower() for token in rules.split() if token.startswith("+")}


@cache
def _scripts() -> dict[str, str]:
    folder = resources.files("chronoq.redis") / "scripts"
    return {
        entry.name.removesuffix(".lua"): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".lua")
    }


def commands_called(body: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """The commands a script calls, with those of the `_lib.lua` helpers it uses (and
    theirs). A name mentioned counts as used: more, never fewer."""
    library = {m.group(1): m.group(0) for m in _LIB_FUNCTION.finditer(_scripts()["_lib"])}
    found = {name.lower() for name in _CALL.findall(body)}
    for name, function in library.items():
        if name not in seen and re.search(rf"\b{name}\(", body):
            found |= commands_called(function.split("\n", 1)[1], seen | {name})
    return found


def scripts_run_by(role: str) -> set[str]:
    chosen = SCRIPTS_OF[role]
    names = set(_scripts()) - {"_lib"}
    return names if chosen == "*" else set(chosen)


def test_the_readme_states_exactly_the_rules_the_tests_use() -> None:
    stated = dict(SETUSER.findall(README.read_text(encoding="utf-8")))
    expected = {role: rules.format(prefix="chronoq") for role, rules in ROLES.items()}
    assert stated == expected


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_may_run_every_command_its_scripts_call(role: str) -> None:
    granted = granted_commands(ROLES[role])
    if scripts_run_by(role):
        assert {"fcall", "function|load"} <= granted
    for script in sorted(scripts_run_by(role)):
        missing = commands_called(_scripts()[script]) - granted
        assert not missing, f"{role} runs {script}.lua, which calls {sorted(missing)}"


def test_the_command_scan_finds_the_helpers_commands() -> None:
    """The scan above is only as good as its parsing of `_lib.lua`: enqueue uses a
    helper that pushes to an idle worker's inbox (RPUSH) and one that reads the clock."""
    called = commands_called(_scripts()["enqueue"])
    assert {"time", "rpush", "hset"} <= called


def test_every_key_and_the_channel_match_the_rules_patterns() -> None:
    keys = Keyspace("chronoq")
    q = keys.queue("mail")
    lock, limit, schedules = keys.lock("nightly"), keys.limit("api"), keys.schedules
    names = [
        q.ready, q.scheduled, q.active, q.dead, q.done, q.seq, q.fair, q.blocked, q.wake,
        q.idle, q.idle_leases, q.stats, q.job("id"), q.result("id"), q.unique("u"),
        q.inbox("w"), q.gate_prefix + "g", q.parked_prefix + "g",
        keys.queues, keys.workers, keys.worker("w"), keys.limits, keys.account_zones,
        keys.once("k"), lock.holder, lock.fence, lock.wake, limit.config, limit.state("k"),
        limit.keys, limit.booked, schedules.defs, schedules.due, schedules.meta,
        schedules.runs, schedules.last, schedules.version,
    ]  # fmt: skip
    assert [n for n in names if not fnmatchcase(n, "chronoq:*")] == []
    assert fnmatchcase(schedules.channel, "chronoq:*")
    assert fnmatchcase(keys.cancel_channel, "chronoq:*")  # workers follow it
    assert "&{prefix}:*" in ROLES["worker"].split()  # the scheduler subscribes/publishes
    # a producer publishes running jobs' cancels, on that one channel only
    producer_channels = [t for t in ROLES["producer"].split() if t.startswith("&")]
    assert [c.format(prefix="chronoq") for c in producer_channels] == [f"&{keys.cancel_channel}"]
    assert not any(token.startswith("&") for token in ROLES["viewer"].split())
