"""The states a send's ledger entry goes through, one owner for their names.

A send records each SMTP step it reached, *before* the step that follows:
started -> connected -> mail_from -> rcpt -> data -> dot -> sent. The next attempt
reads where the last one stopped. Up to `data` nothing was delivered: the message
is sent again. At `dot` the final "." may have reached the server and been
accepted with the 250 lost: it becomes `uncertain`, for an operator, never resent
blindly. `deferred` (a 4xx) sends again later; `failed` (a 5xx) never.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    STARTED = "started"  # claimed by a run, not yet connected
    CONNECTED = "connected"  # greeting, EHLO, STARTTLS and AUTH done
    MAIL_FROM = "mail_from"  # MAIL FROM accepted
    RCPT = "rcpt"  # RCPT TO accepted
    DATA = "data"  # DATA answered 354: the message is being written
    DOT = "dot"  # about to write (or wrote) the final ".": no reply recorded yet
    SENT = "sent"  # the 250 after the final "." came back
    DEFERRED = "deferred"  # a 4xx reply: try again later
    FAILED = "failed"  # a 5xx reply: permanent
    UNCERTAIN = "uncertain"  # the final "." may have been accepted: an operator decides


RESENDABLE: tuple[Phase | None, ...] = (
    None,
    Phase.STARTED,
    Phase.CONNECTED,
    Phase.MAIL_FROM,
    Phase.RCPT,
    Phase.DATA,
    Phase.DEFERRED,
)
"""States a new attempt may send from: nothing can have been delivered yet."""
