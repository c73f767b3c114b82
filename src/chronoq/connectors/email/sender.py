"""The email connector: render, record, send, and turn the server's reply into
chronoq's outcome for the job.

One send = one recipient = one ledger entry, keyed (caller key, recipient): a
campaign id, say. Before anything goes on the wire the run claims the entry; each
SMTP step is recorded as reached (see phases.py). The next attempt, after a crash
or a retry, reads the entry and resends only when nothing can have been delivered.

Replies: 2xx where expected goes on; 4xx (421, 450, 451, 452, 454: "try later",
often "slow down") defers the job without spending an attempt (RateLimited) and
lowers the sender's rate; 5xx is permanent (the job is dead, the reply its
reason). A lost connection before the final "." is an ordinary failure, retried
with the task's backoff; after it, the send is `uncertain` and the job dead with
that reason, for an operator: `ledger.delete(key)` then retrying the job resends.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from chronoq import (
    App,
    Ledger,
    LedgerConflict,
    LedgerEntry,
    NotInJob,
    Permanent,
    RateLimited,
    Task,
    current_job,
)
from chronoq.connectors.email.message import BadAddress, build_message, message_id
from chronoq.connectors.email.phases import RESENDABLE, Phase
from chronoq.connectors.email.smtp import SmtpLost, SmtpNoTls, SmtpReply, SmtpServer, transact
from chronoq.connectors.email.templates import EmailTemplate, TemplateRefused
from chronoq.connectors.email.throttle import Sender, Throttle

DEFAULT_DEFER = {421: 60.0, 450: 300.0, 451: 120.0, 452: 300.0, 454: 60.0}
FALLBACK_DEFER = 120.0  # seconds, for a 4xx not in the table


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a send did: `already` when an earlier attempt had the 250 (nothing was
    sent this time); `tries`: attempts that went on the wire for this entry."""

    key: str
    recipient: str
    message_id: str
    reply: str
    already: bool
    tries: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ledger_key(key: str, recipient: str) -> str:
    """(caller key, recipient) as one ledger key; braces (hash tags) escaped."""
    raw = f"{key}:{recipient.strip().lower()}"
    return raw.replace("{", "%7B").replace("}", "%7D")


def _owner() -> str:
    """This run's token: the job and attempt (a rerun after a crash is another)."""
    try:
        job = current_job()
    except NotInJob:
        return f"call-{uuid.uuid4().hex}"
    return f"{job.id}:{job.attempt}"


class EmailConnector:
    """Email over SMTP for one server: `app`'s ledger `ledger` holds the sends."""

    def __init__(
        self,
        app: App,
        server: SmtpServer,
        *,
        ledger: str = "email",
        throttle: Throttle | None = None,
        defer: Mapping[int, float] | None = None,
    ) -> None:
        self.app = app
        self.server = server
        self.ledger_name = ledger
        self.throttle = throttle or Throttle(app)
        self.defer = dict(DEFAULT_DEFER if defer is None else defer)
        self.senders: dict[str, Sender] = {}

    @property
    def ledger(self) -> Ledger:
        """The send ledger (looked up on use: the app's prefix may be set after
        this connector is made, as the worker's --prefix does)."""
        return self.app.ledger(self.ledger_name)

    def sender(self, name: str, address: str, *, rate: str = "60/min") -> Sender:
        """Declare a sender and its rate limit (`smtp.<name>`)."""
        made = Sender(name, address, rate)
        if name in self.senders:
            raise ValueError(f"sender {name!r} is declared twice")
        self.throttle.declare(made)
        self.senders[name] = made
        return made

    def task(
        self, *, sender: str = "sender", **options: Any
    ) -> Callable[[Callable[..., Any]], Task]:
        """`app.task` for a function whose first parameter receives this connector
        and whose `sender` parameter names the sender: its jobs wait for that
        sender's rate limit. Other options go to `app.task`."""

        def register(func: Callable[..., Any]) -> Task:
            signature = inspect.signature(func)
            rest = list(signature.parameters.values())[1:]
            if sender not in {p.name for p in rest}:
                raise ValueError(f"{func.__qualname__} needs a {sender!r} parameter")

            @functools.wraps(func)
            async def run(*args: Any, **kwargs: Any) -> Any:
                return await func(self, *args, **kwargs)

            run.__signature__ = signature.replace(parameters=rest)  # type: ignore[attr-defined]
            limit = self.throttle.limit_name("{" + sender + "}")
            return self.app.task(rate_limit=limit, **options)(run)

        return register

    async def send(
        self,
        *,
        key: str,
        sender: str,
        to: str,
        template: EmailTemplate,
        context: Mapping[str, Any] | None = None,
        unsubscribe_url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendResult:
        """Send `template` to `to` once per (key, to); see the module's docstring."""
        who = self.senders.get(sender)
        if who is None:
            raise Permanent(f"unknown sender {sender!r} (declared: {sorted(self.senders)})")
        entry_key = ledger_key(key, to)
        msg_id = message_id(entry_key, who.address)
        try:
            rendered = template.render(context or {})
            message = build_message(
                rendered, sender=who.address, recipient=to, msg_id=msg_id,
                unsubscribe_url=unsubscribe_url, headers=headers,
            )  # fmt: skip
        except (TemplateRefused, BadAddress) as exc:
            raise Permanent(str(exc)) from exc
        owner = _owner()
        entry = await self._claim(entry_key, owner, {"to": to, "message_id": msg_id})
        if entry.state == Phase.SENT:
            return self._result(entry, already=True)
        return await self._deliver(who, entry, owner, message)

    async def _claim(self, key: str, owner: str, data: dict[str, Any]) -> LedgerEntry:
        """Take the entry to send (or return it SENT); Permanent when it must not be
        sent (uncertain, failed)."""
        found = await self.ledger.get(key)
        if found is not None and found.state == Phase.SENT:
            return found
        if found is not None and found.state == Phase.DOT:
            found = await self.ledger.claim(
                key, Phase.UNCERTAIN, owner=owner, from_states=[Phase.DOT]
            )
        if found is not None and found.state in (Phase.UNCERTAIN, Phase.FAILED):
            raise Permanent(_refusal(found))
        tries = int(found.data.get("tries", 0)) if found is not None else 0
        try:
            return await self.ledger.claim(
                key, Phase.STARTED, owner=owner, from_states=RESENDABLE,
                data={**data, "tries": tries + 1},
            )  # fmt: skip
        except LedgerConflict as exc:  # changed meanwhile: decide on what it is now
            now: LedgerEntry | None = exc.entry
            if now is not None and now.state == Phase.SENT:
                return now
            raise

    async def _deliver(
        self, who: Sender, entry: LedgerEntry, owner: str, message: bytes
    ) -> SendResult:
        key, data = entry.key, entry.data

        async def reached(phase: Phase) -> None:
            await self.ledger.advance(key, phase, owner=owner)

        try:
            reply = await transact(self.server, who.address, data["to"], message, reached)
        except SmtpReply as exc:
            raise await self._refused(who, key, owner, exc) from exc
        except SmtpNoTls as exc:
            raise Permanent(str(exc)) from exc  # nothing sent: a later retry may send
        except SmtpLost as exc:
            if exc.phase is not Phase.DOT:
                raise  # nothing delivered: the task's retries send again
            done = {**data, "reason": f"no reply after the final '.': {exc.__cause__}"}
            uncertain = await self.ledger.advance(key, Phase.UNCERTAIN, owner=owner, data=done)
            raise Permanent(_refusal(uncertain)) from exc
        sent = {**data, "reply": f"{reply.code} {reply.message}"}
        entry = await self.ledger.advance(key, Phase.SENT, owner=owner, data=sent)
        await self.throttle.recover(who.name)
        return self._result(entry, already=False)

    async def _refused(self, who: Sender, key: str, owner: str, exc: SmtpReply) -> Exception:
        """The error for a reply that refused a step (recorded first)."""
        reason = f"SMTP {exc.code} {exc.text} (after {exc.phase.value})"
        entry = await self.ledger.get(key)
        data = {**(entry.data if entry else {}), "reason": reason}
        if 400 <= exc.code < 500:
            await self.ledger.advance(key, Phase.DEFERRED, owner=owner, data=data)
            await self.throttle.lower(who.name)
            return RateLimited(self.defer.get(exc.code, FALLBACK_DEFER), reason)
        if exc.code >= 500:
            await self.ledger.advance(key, Phase.FAILED, owner=owner, data=data)
            return Permanent(reason)
        return exc  # an odd code where another was due: retried like a lost link

    @staticmethod
    def _result(entry: LedgerEntry, *, already: bool) -> SendResult:
        data = entry.data
        return SendResult(
            key=entry.key, recipient=str(data.get("to", "")),
            message_id=str(data.get("message_id", "")), reply=str(data.get("reply", "")),
            already=already, tries=int(data.get("tries", 0)),
        )  # fmt: skip


def _refusal(entry: LedgerEntry) -> str:
    reason = entry.data.get("reason", "")
    if entry.state == Phase.UNCERTAIN:
        return (
            f"email {entry.key!r} is uncertain: the final '.' was sent but no 250 was "
            f"recorded, so it may have been delivered; not resent ({reason or 'a crash'}). "
            "Check the server's log; to resend, delete its ledger entry and retry the job."
        )
    return f"email {entry.key!r} failed permanently: {reason}"
