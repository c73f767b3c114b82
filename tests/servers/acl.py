"""A private server with ACL users, each given as a rule string (`on >secret ~cq:* +@all`).

The `default` user is switched off (or, with `default_password`, protected by it), so a
client without credentials gets nothing. The fixture itself needs a way in - to PING at
start and to inspect keys - so an extra all-powerful user, `cq-admin`, is always added
with a random password; the users under test never are it.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis

from tests.servers.binaries import BinaryName
from tests.servers.process import HOST, ServerProcess

ADMIN_USER = "cq-admin"

# Placeholders until the lead supplies chronoq's exact rules: a worker may run scripts on
# the data, a producer may write and read it, a viewer may only read it.
SAMPLE_USERS: Mapping[str, str] = {
    "worker": "on >worker-secret ~* &* -@all +@read +@write +@scripting -@dangerous +@connection",
    "producer": "on >producer-secret ~* -@all +@read +@write +@scripting -@dangerous +@connection",
    "viewer": "on >viewer-secret ~* -@all +@read +@connection",
}


@dataclass(frozen=True)
class AclSpec:
    """The users (name -> rules), how the `default` user is treated, and the binary."""

    users: Mapping[str, str] = field(default_factory=lambda: dict(SAMPLE_USERS))
    default_password: str | None = None  # None: `default` is off
    binary: BinaryName = "redis"


def password_in(rules: str) -> str | None:
    """The first `>password` of a rule string, if any."""
    for token in rules.split():
        if token.startswith(">"):
            return token[1:]
    return None


class AclServer:
    def __init__(self, binary: Path, spec: AclSpec | Mapping[str, str]) -> None:
        self.spec = spec if isinstance(spec, AclSpec) else AclSpec(users=dict(spec))
        if ADMIN_USER in self.spec.users:
            raise ValueError(f"{ADMIN_USER!r} is the fixture's own user; name yours otherwise")
        self.admin_password = secrets.token_hex(12)
        self.dir = Path(tempfile.mkdtemp(prefix="cq-acl-"))
        admin = {"username": ADMIN_USER, "password": self.admin_password}
        self.server = ServerProcess(binary, self.dir, self._config(), client_kwargs=admin)

    def _config(self) -> list[str]:
        lines = [f"user {ADMIN_USER} on >{self.admin_password} ~* &* +@all"]
        if "default" not in self.spec.users:
            password = self.spec.default_password
            lines.append(
                "user default off"
                if password is None
                else f"user default on >{password} ~* &* +@all"
            )
        lines += [f"user {name} {rules}" for name, rules in self.spec.users.items()]
        return lines

    @property
    def port(self) -> int:
        return self.server.port

    def password_of(self, user: str) -> str:
        if user == "default" and self.spec.default_password is not None:
            return self.spec.default_password
        password = password_in(self.spec.users[user])
        if password is None:
            raise ValueError(f"user {user!r} has no >password in its rules; pass one")
        return password

    def url_for(self, user: str, password: str | None = None) -> str:
        """`redis://user:password@127.0.0.1:PORT/0` (password from the rules by default)."""
        password = self.password_of(user) if password is None else password
        return f"redis://{quote(user, safe='')}:{quote(password, safe='')}@{HOST}:{self.port}/0"

    def client_as(self, user: str, password: str | None = None, **kwargs: Any) -> redis.Redis:
        password = self.password_of(user) if password is None else password
        return self.server.client(username=user, password=password, **kwargs)

    def anonymous(self, **kwargs: Any) -> redis.Redis:
        """A client with no credentials at all."""
        return self.server.client(username=None, password=None, **kwargs)

    def admin(self, **kwargs: Any) -> redis.Redis:
        return self.server.client(**kwargs)

    def start(self, timeout: float = 20.0) -> None:
        self.server.start(timeout)

    def stop(self) -> None:
        self.server.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
