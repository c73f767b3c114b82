"""A real worker process and steady producers on a Sentinel-managed primary that is
SIGKILLed under load: everyone follows the promoted replica with no configuration change
and no restart, and work resumes; the old primary comes back as a replica and nothing
breaks.

With `replica_acks=1` no enqueue that returned is lost: every such job ends done. Without
it, an enqueue the primary acknowledged but had not yet sent to its replica is lost with
the primary - up to the replication lag's worth; the test counts them and checks that
only enqueues acknowledged just before the kill are among them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from chronoq import App
from chronoq.core.job import Field, JobStatus
from chronoq.core.settings import Settings
from chronoq.redis.keys import Keyspace
from tests.fault.helpers import WorkerProcess
from tests.servers.polling import StateNotReachedError, wait_for
from tests.servers.process import ServerProcess
from tests.servers.sentinel import SentinelGroup
from tests.worker.producers import Producer

ACK_TIMEOUT = 0.5  # seconds a WAIT may block: short, so the failover window stays short
LEASE = "2"  # a job leased on the dead primary runs again after this on the new one
QUEUE = "default"
# An enqueue acknowledged this long before the kill had reached the replica: the
# replication lag on one machine is milliseconds; a box running the suite on four
# processes beside other work was seen lagging over 1 s (the claim tested is that only
# the primary's last moments are lost, not a bound on the lag).
REPLICATION_LAG_BOUND = 3.0


def sentinel_url(group: SentinelGroup, db: int = 0) -> str:
    sentinels = ",".join(f"{host}:{port}" for host, port in group.sentinel_addresses)
    return f"redis+sentinel://{sentinels}/{group.service_name}/{db}"


def statuses(server: ServerProcess, prefix: str, ids: list[str]) -> dict[str, str | None]:
    """Each job's status as the given data node has it (None: no such job)."""
    q = Keyspace(prefix).queue(QUEUE)
    with server.client(decode_responses=True) as conn:
        pipe = conn.pipeline(transaction=False)
        for job_id in ids:
            pipe.hget(q.job_prefix + job_id, Field.STATUS)
        return dict(zip(ids, pipe.execute(), strict=True))


def done(server: ServerProcess, prefix: str, ids: list[str]) -> bool:
    found = statuses(server, prefix, ids).values()
    return all(status == JobStatus.SUCCEEDED for status in found)


@contextmanager
def producing(url: str, prefix: str, acks: int) -> Iterator[list[Producer]]:
    """One sync (fast path) and one async producer, both on the Sentinel URL."""
    settings = Settings(replica_acks=acks, replica_ack_timeout=ACK_TIMEOUT)

    def make_app() -> App:
        return App("producer", redis_url=url, prefix=prefix, settings=settings)

    producers = [Producer(make_app, "sync"), Producer(make_app, "async")]
    for producer in producers:
        producer.start()
    try:
        yield producers
    finally:
        for producer in producers:
            producer.stop()


def wait_while_producing(
    what: str,
    check: Callable[[], object],
    timeout: float,
    producers: list[Producer],
    worker: WorkerProcess,
) -> None:
    """wait_for, failing with what the producers saw and the end of the worker's log."""
    try:
        wait_for(what, check, timeout)
    except StateNotReachedError as exc:
        log = "\n".join(worker.output().splitlines()[-30:])
        raise AssertionError(f"{exc}\nproducers: {producers}\nworker log:\n{log}") from None


def acked_total(producers: list[Producer]) -> int:
    return sum(len(p.tally.acked) for p in producers)


def acked_since(producers: list[Producer], moment: float) -> dict[str, int]:
    return {p.kind: p.tally.acked_since(moment) for p in producers}


@contextmanager
def sentinel_worker(url: str, prefix: str, acks: int) -> Iterator[WorkerProcess]:
    env = {"CHRONOQ_REPLICA_ACKS": str(acks), "CHRONOQ_REPLICA_ACK_TIMEOUT": str(ACK_TIMEOUT)}
    worker = WorkerProcess(url, prefix, "--lease", LEASE, "--concurrency", "16", env=env)
    try:
        yield worker
    finally:
        worker.stop()


def fail_over_under_load(
    group: SentinelGroup, worker: WorkerProcess, producers: list[Producer], prefix: str
) -> tuple[ServerProcess, ServerProcess, float]:
    """Let work flow, SIGKILL the primary, wait for the promotion. Returns (old, new,
    the moment of the kill)."""
    primary = group.current_primary()
    wait_for("200 acknowledged enqueues", lambda: acked_total(producers) >= 200, 20)
    first = [job_id for p in producers for job_id in p.tally.ids()[:50]]
    wait_for("the worker to run the first jobs", lambda: done(primary, prefix, first), 20)
    killed_at = time.monotonic()
    old = group.kill_primary()
    new = group.wait_for_failover(old)
    assert worker.alive(), worker.output()
    return old, new, killed_at


def assert_only_expected_errors(producers: list[Producer], killed_at: float) -> None:
    for producer in producers:
        tally = producer.tally
        assert not tally.unexpected, (producer.kind, tally.unexpected[:5])
        assert all(at >= killed_at for at in tally.error_times), (producer.kind, tally.errors)


def assert_no_second_failover(group: SentinelGroup, new: ServerProcess) -> None:
    """The counts below are read on `new`: it must still be the primary."""
    assert group.primary_address() == new.address, (
        f"the sentinels failed over a second time, to {group.primary_address()}"
    )


@pytest.mark.timeout(90)
def test_with_replica_acks_no_acknowledged_enqueue_is_lost_in_a_failover(
    sentinel_group: SentinelGroup, prefix: str
) -> None:
    url = sentinel_url(sentinel_group)
    with sentinel_worker(url, prefix, acks=1) as worker:
        with producing(url, prefix, acks=1) as producers:
            old, new, killed_at = fail_over_under_load(sentinel_group, worker, producers, prefix)
            # The promoted replica has no replica of its own yet: enqueues reach it but
            # are not confirmed, and every producer is told so (NotReplicated).
            wait_while_producing(
                "both producers to be told their enqueues are not replicated",
                lambda: all(p.tally.errors["NotReplicated"] for p in producers),
                20,
                producers,
                worker,
            )
            # Work resumes on the promoted replica alone: every job acknowledged before
            # the kill runs there (leases the dead primary gave out expire first).
            before = [i for p in producers for i, at in p.tally.acked if at < killed_at]
            wait_while_producing(
                "the jobs acknowledged before the kill to succeed on the new primary",
                lambda: done(new, prefix, before),
                30,
                producers,
                worker,
            )
            sentinel_group.restart(old)  # back, as the new primary's replica
            restored = time.monotonic()
            wait_while_producing(
                "acknowledged enqueues again from both producers",
                lambda: min(acked_since(producers, restored).values()) >= 20,
                20,
                producers,
                worker,
            )
        assert_only_expected_errors(producers, killed_at)
        assert_no_second_failover(sentinel_group, new)
        ids = [job_id for p in producers for job_id in p.tally.ids()]
        lost = [i for i, status in statuses(new, prefix, ids).items() if status is None]
        assert lost == [], f"{len(lost)} acknowledged enqueue(s) lost: {lost[:5]}"
        # ... and every one of them runs to the end on the new primary, same worker.
        wait_for("every acknowledged job to succeed", lambda: done(new, prefix, ids), 40)
        assert worker.alive(), worker.output()


@pytest.mark.timeout(90)
def test_without_replica_acks_a_failover_loses_at_most_the_last_unreplicated_enqueues(
    sentinel_group: SentinelGroup, prefix: str, record_property: Callable[[str, object], None]
) -> None:
    url = sentinel_url(sentinel_group)
    with sentinel_worker(url, prefix, acks=0) as worker:
        with producing(url, prefix, acks=0) as producers:
            old, new, killed_at = fail_over_under_load(sentinel_group, worker, producers, prefix)
            promoted = time.monotonic()
            # No configuration change, no restart: both producers write to the new
            # primary and the same worker runs what they write.
            wait_while_producing(
                "acknowledged enqueues on the new primary from both producers",
                lambda: min(acked_since(producers, promoted).values()) >= 20,
                20,
                producers,
                worker,
            )
            after = [i for p in producers for i, at in p.tally.acked if at >= promoted]
            wait_while_producing(
                "the jobs enqueued after the failover to succeed",
                lambda: done(new, prefix, after),
                30,
                producers,
                worker,
            )
            sentinel_group.restart(old)  # back, as the new primary's replica
            restored = time.monotonic()
            wait_while_producing(
                "acknowledged enqueues with the old primary back as a replica",
                lambda: min(acked_since(producers, restored).values()) >= 20,
                20,
                producers,
                worker,
            )
        assert_only_expected_errors(producers, killed_at)
        assert_no_second_failover(sentinel_group, new)
        acked = {i: at for p in producers for i, at in p.tally.acked}
        found = statuses(new, prefix, list(acked))
        lost = [i for i, status in found.items() if status is None]
        record_property("acknowledged_enqueues_lost", len(lost))
        print(f"\nfailover without replica acks: {len(lost)} of {len(acked)} lost")
        # Only what the primary acknowledged in its last moments may be missing.
        early = [i for i in lost if acked[i] < killed_at - REPLICATION_LAG_BOUND]
        assert early == [], f"enqueues acknowledged well before the kill were lost: {early}"
        kept = [i for i in acked if i not in set(lost)]
        wait_for("every job that survived to succeed", lambda: done(new, prefix, kept), 40)
        assert worker.alive(), worker.output()
