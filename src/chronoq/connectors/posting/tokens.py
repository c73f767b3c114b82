"""Each account's OAuth tokens, in Redis (a chronoq ledger entry per account),
refreshed by remaining lifetime under a lock per account.

TikTok rotates refresh tokens: every refresh answers a new one and refuses the old
one from then on (`invalid_grant`). Two workers refreshing at once would lose the
account (the second one's token is already dead), so a refresh runs under
`app.lock("posting-token:<account>")` and re-reads the tokens once it holds it: a
worker that waited finds them fresh and uses them, the platform sees one refresh.

The entry's state carries the fence of the lock holder that wrote it
(`valid:<fence>`, `refreshing:<fence>`, `revoked:<fence>`), and every write is a
compare-and-set from the state read under the lock: a holder whose lease ran out
(a stalled process) cannot record over a newer holder, and never refreshes with a
refresh token it read before the newer holder rotated it.

`refreshing:<n>` found by the next lock holder means a refresh began without
ending. Written less than two lock leases and one request timeout ago, its
holder may still be in flight
(its lease lost, its request still going): sending the same refresh token now
could burn it, so the caller is deferred (RateLimited, no attempt spent) until
that window has passed. Older, the refresh was interrupted (a crash, a reply
lost): the stored refresh token may be rotated out. It is tried anyway; an
`invalid_grant` then says so in its reason.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from chronoq import App, Ledger, LedgerConflict, LedgerEntry, LockLost, Permanent, RateLimited
from chronoq.connectors.posting.api import PlatformError, TikTokClient

TOKENS_TTL = 400 * 86400.0  # longer than a refresh token lives (365 days)
DEFAULT_MARGIN = 300.0  # refresh when less than 5 minutes are left


@dataclass(frozen=True, slots=True)
class TokenSet:
    """An account's tokens; times are epoch seconds."""

    access_token: str
    access_expires_at: float
    refresh_token: str
    refresh_expires_at: float
    open_id: str = ""
    scope: str = ""

    @classmethod
    def from_reply(cls, data: Mapping[str, Any], now: float) -> TokenSet:
        """From the token endpoint's reply (also what a code exchange answers)."""
        try:
            return cls(
                access_token=str(data["access_token"]),
                access_expires_at=now + float(data["expires_in"]),
                refresh_token=str(data["refresh_token"]),
                refresh_expires_at=now + float(data.get("refresh_expires_in", 365 * 86400)),
                open_id=str(data.get("open_id", "")),
                scope=str(data.get("scope", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"a token reply needs access_token, expires_in and refresh_token: {exc!r}"
            ) from exc

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> TokenSet:
        fields = (
            "access_token",
            "access_expires_at",
            "refresh_token",
            "refresh_expires_at",
            "open_id",
            "scope",
        )
        return cls(**{k: data[k] for k in fields if k in data})

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    def left(self, now: float) -> float:
        """Seconds the access token has left."""
        return self.access_expires_at - now


def _kind(entry: LedgerEntry) -> str:
    return entry.state.partition(":")[0]


class TokenManager:
    """`await tokens.access_token("acme")` inside a task: a token with more than
    `margin` seconds left, refreshed first when needed."""

    def __init__(
        self,
        app: App,
        api: TikTokClient,
        *,
        ledger: str = "posting-tokens",
        margin: float = DEFAULT_MARGIN,
        lock_ttl: float = 30.0,
        lock_timeout: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if margin < 0:
            raise ValueError(f"margin must be >= 0 seconds, got {margin}")
        self.app = app
        self.api = api
        self.ledger_name = ledger
        self.margin = margin
        self.lock_ttl = lock_ttl
        self.lock_timeout = lock_timeout
        self.clock = clock
        self.refreshes = 0  # refreshes this process sent (for tests and metrics)

    @property
    def ledger(self) -> Ledger:
        return self.app.ledger(self.ledger_name, ttl=TOKENS_TTL)

    def _lock(self, account: str) -> Any:
        return self.app.lock(
            f"posting-token:{account}", ttl=self.lock_ttl, timeout=self.lock_timeout
        )

    async def get(self, account: str) -> TokenSet | None:
        entry = await self.ledger.get(account)
        if entry is None or "access_token" not in entry.data:
            return None
        return TokenSet.from_data(entry.data)

    async def store(self, account: str, tokens: TokenSet | Mapping[str, Any]) -> TokenSet:
        """Keep an account's tokens (after the user's consent: the code exchange's
        reply, or a TokenSet). Replaces whatever was stored, revoked included."""
        made = tokens if isinstance(tokens, TokenSet) else TokenSet.from_reply(tokens, self.clock())
        async with self._lock(account) as lock:
            await self.ledger.claim(
                account,
                f"valid:{lock.fence}",
                owner=f"fence-{lock.fence}",
                from_states=[],
                data=made.to_data(),
            )
        return made

    async def access_token(self, account: str) -> str:
        """A usable access token (Permanent when the account has none or was revoked)."""
        entry = await self._entry(account)
        tokens = TokenSet.from_data(entry.data)
        if _kind(entry) == "valid" and tokens.left(self.clock()) > self.margin:
            return tokens.access_token
        return (await self.refresh(account)).access_token

    async def _entry(self, account: str) -> LedgerEntry:
        entry = await self.ledger.get(account)
        if entry is None or "access_token" not in entry.data:
            raise Permanent(
                f"tiktok account {account!r} has no tokens: authorize it, then "
                "store its tokens (poster.tokens.store)"
            )
        if _kind(entry) == "revoked":
            raise Permanent(
                str(
                    entry.data.get("reason")
                    or f"tiktok account {account!r} was revoked: authorize it again"
                )
            )
        return entry

    async def refresh(self, account: str, *, stale: str | None = None) -> TokenSet:
        """Refresh under the account's lock, unless, once it is held, the stored
        tokens are fresh (another worker refreshed) or, with `stale` (an access token
        the platform refused), the stored access token is another one already.

        A lease lost meanwhile (LockLost at release) does not undo the result: every
        write was a compare-and-set on this holder's own state, so what it stored
        stands, and the next holder's in-flight check covered the overlap."""
        lock = self._lock(account)
        await lock.acquire()
        try:
            made = await self._refresh_held(account, stale, lock.fence)
        finally:
            with contextlib.suppress(LockLost):  # logged by the lock; the CAS kept us safe
                await lock.release()
        return made

    async def _refresh_held(self, account: str, stale: str | None, fence: int) -> TokenSet:
        entry = await self._entry(account)
        tokens = TokenSet.from_data(entry.data)
        if _kind(entry) == "valid":
            fresh = tokens.left(self.clock()) > self.margin
            if (stale is None and fresh) or (stale is not None and tokens.access_token != stale):
                return tokens
        self._check_in_flight(account, entry)
        owner = f"fence-{fence}"
        try:
            await self.ledger.claim(
                account, f"refreshing:{fence}", owner=owner, from_states=[entry.state]
            )
        except LedgerConflict:  # a newer holder wrote since we read: theirs stands
            return TokenSet.from_data((await self._entry(account)).data)
        return await self._rotate(account, entry, tokens, owner, fence)

    def _check_in_flight(self, account: str, entry: LedgerEntry) -> None:
        """RateLimited while a refresh another holder began may still be in flight."""
        if _kind(entry) != "refreshing" or entry.updated is None:
            return
        window = 2 * self.lock_ttl + self.api.timeout  # a lease lost, a request's life
        left = window - (self.clock() - entry.updated.timestamp())
        if left > 0:
            raise RateLimited(left, f"tiktok account {account!r}: a refresh begun "
                              f"{entry.state!r} may still be in flight; not sending its "
                              "refresh token again yet")  # fmt: skip

    async def _rotate(
        self, account: str, read: LedgerEntry, tokens: TokenSet, owner: str, fence: int
    ) -> TokenSet:
        interrupted = _kind(read) == "refreshing"
        try:
            self.refreshes += 1
            reply = await self.api.refresh(tokens.refresh_token)
        except PlatformError as exc:
            if exc.code in ("invalid_grant", "invalid_client"):
                reason = _revoked_reason(account, exc, interrupted)
                await self.ledger.advance(
                    account,
                    f"revoked:{fence}",
                    owner=owner,
                    data={**tokens.to_data(), "reason": reason},
                )
                raise Permanent(reason) from exc
            await self.ledger.advance(account, f"valid:{fence}", owner=owner)  # not rotated
            raise
        except httpx.ConnectError:
            await self.ledger.advance(account, f"valid:{fence}", owner=owner)  # never sent
            raise
        # any other failure leaves `refreshing`: the request may have rotated the token
        made = TokenSet.from_reply(reply.data, self.clock())
        await self.ledger.advance(
            account,
            f"valid:{fence}",
            owner=owner,
            data={**made.to_data(), "refreshed_at": self.clock(), "fence": fence},
        )
        return made


def _revoked_reason(account: str, exc: PlatformError, interrupted: bool) -> str:
    why = (
        " (an earlier refresh was interrupted after it was sent: the platform may have "
        "rotated the token then, with its reply lost)"
        if interrupted
        else ""
    )
    return (
        f"tiktok account {account!r}: the refresh token was refused ({exc.code}: "
        f"{exc.message or 'no description'}){why}; the user must authorize the app again"
    )
