"""The crash matrix: a worker process SIGKILLed at each SMTP step, a second one
finishing the job. Killed before the final "." the email is sent exactly once
(by the second worker); killed between the "." and the 250 it is `uncertain`:
the job is dead with that reason and nothing is resent.

The local server holds at the chosen step (tests/connectors/email/smtp_server.py),
the test waits until the ledger shows the step the worker recorded, then kills it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from chronoq import App, Client, JobStatus
from chronoq.client import JobRequest
from chronoq.connectors.email import Phase, ledger_key
from tests.connectors.email.mail_app import SENDER, install
from tests.connectors.email.smtp_server import SmtpServerFixture
from tests.fault.helpers import ONE_AT_A_TIME, WorkerProcess, workers
from tests.worker.helpers import wait_until

APP = "tests.connectors.email.mail_app:app"
TO = "ann@example.test"
BIG_BODY = 40_000  # lines of 501 bytes: ~20 MB, more than the loopback socket buffers hold

# (where the server holds, the step the ledger shows when the worker is killed)
BEFORE_THE_DOT = [
    ("MAIL", Phase.CONNECTED),
    ("RCPT", Phase.MAIL_FROM),
    ("DATA", Phase.RCPT),
    ("BODY", Phase.DATA),
]

pytestmark = [ONE_AT_A_TIME, pytest.mark.timeout(120)]


@dataclass
class Crash:
    """One test's app, client, SMTP server and Redis, and the workers it started."""

    app: App
    client: Client
    smtp_server: SmtpServerFixture
    redis_url: str
    prefix: str
    started: list[WorkerProcess] = field(default_factory=list)

    def worker(self) -> WorkerProcess:
        env = {"CHRONOQ_TEST_SMTP_PORT": str(self.smtp_server.port)}
        made = WorkerProcess(self.redis_url, self.prefix, "--lease", "1", env=env, app=APP)
        self.started.append(made)
        return made

    async def kill_at(self, hold: str, phase: Phase) -> str:
        """Enqueue one send, let a worker reach `hold`, check the ledger says `phase`,
        SIGKILL the worker and start another; the job's id once it ended."""
        mail, welcome = install(self.app, self.smtp_server.port)
        lines = BIG_BODY if hold == "BODY" else 0
        self.smtp_server.script.hold = hold
        kwargs = {"campaign": "camp", "sender": SENDER, "to": TO, "name": "Ann", "lines": lines}
        request = JobRequest(welcome, kwargs=kwargs, unique_key=f"camp:{TO}")
        job = await self.client.submit(request)
        first = self.worker()
        key = ledger_key("camp", TO)

        async def at_the_step() -> bool:
            entry = await mail.ledger.get(key)
            held = self.smtp_server.script.held.is_set()
            return held and entry is not None and entry.state == phase

        await wait_until(at_the_step, timeout=30, interval=0.02)
        await asyncio.sleep(0.3)  # a worker that was going on would have recorded more by now
        assert (await mail.ledger.get(key)).state == phase  # type: ignore[union-attr]
        first.signal(signal.SIGKILL)
        first.wait(5)
        self.worker()

        async def finished() -> bool:
            status = (await self.client.job(job.id)).status
            return status in (JobStatus.SUCCEEDED, JobStatus.DEAD)

        await wait_until(finished, timeout=60, interval=0.05)
        return job.id


@pytest.fixture
def crash(
    app: App, client: Client, smtp_server: SmtpServerFixture, redis_url: str, prefix: str
) -> Iterator[Crash]:
    with workers() as started:
        made = Crash(app, client, smtp_server, redis_url, prefix)
        made.started = started
        yield made


@pytest.mark.parametrize(("hold", "phase"), BEFORE_THE_DOT)
async def test_killed_before_the_final_dot_the_email_is_sent_exactly_once(
    crash: Crash, hold: str, phase: Phase
) -> None:
    job = await crash.client.job(await crash.kill_at(hold, phase))
    assert job.status is JobStatus.SUCCEEDED, (job.error, crash.started[-1].output()[-2000:])
    messages = crash.smtp_server.messages
    assert len(messages) == 1  # the second worker's; the first never finished
    assert messages[0].rcpt_tos == [TO]
    entry = await crash.app.ledger("email").get(ledger_key("camp", TO))
    assert entry is not None and entry.state == Phase.SENT and entry.data["tries"] == 2


async def test_killed_between_the_dot_and_the_250_the_email_is_uncertain_not_resent(
    crash: Crash,
) -> None:
    job = await crash.client.job(await crash.kill_at("DOT", Phase.DOT))
    assert job.status is JobStatus.DEAD
    assert "uncertain" in (job.error or "") and "not resent" in (job.error or "")
    assert crash.smtp_server.script.arrivals == 1  # the killed worker's, never a second
    assert crash.smtp_server.messages == []
    entry = await crash.app.ledger("email").get(ledger_key("camp", TO))
    assert entry is not None and entry.state == Phase.UNCERTAIN
    assert [state for state, _ in entry.history][-2:] == ["dot", "uncertain"]
