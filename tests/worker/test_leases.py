"""The lease keeper: a lease taken by the run's own outcome is not a lost lease."""

from __future__ import annotations

import logging

import pytest

from chronoq import Client
from chronoq.client import JobRequest
from chronoq.worker.leases import LeaseKeeper
from chronoq.worker.resilience import Outages


async def test_a_renewal_racing_the_outcome_write_reports_no_lost_lease(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    broker = client.broker
    for _ in range(2):
        await client.submit(JobRequest("t", force=True))
    claim = await broker.claim("default", 2, lease_ms=10_000, token="tok", worker_id="w",
                               retention_ms=60_000, register_idle=False)  # fmt: skip
    lost: list[str] = []
    keeper = LeaseKeeper(broker, ["default"], lease=10.0, default_max_retries=3,
                         on_lost=lost.append, outages=Outages("test"))  # fmt: skip
    finished, running = claim.jobs
    for job in claim.jobs:
        keeper.hold(job.id, job.queue, job.token)
    keeper.settling(finished.id)  # its run ended; its outcome is being written
    for job in claim.jobs:  # both leases end in Redis before the renewal reads them
        await broker.complete("default", [(job.id, job.token, "")], retention_ms=60_000,
                              result_ttl_ms=60_000)  # fmt: skip
    caplog.set_level(logging.WARNING, logger="chronoq.worker")
    await keeper.renew()
    assert lost == [running.id]  # only the run still going is told to stop
    warned = [r.getMessage() for r in caplog.records if "lost its lease" in r.getMessage()]
    assert warned == [f"chronoq: job {running.id} lost its lease; stopping its run"]
