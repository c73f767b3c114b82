"""A real Sentinel group: a primary, a replica and three sentinels (quorum 2).

`down-after-milliseconds` is 2000 and `failover-timeout` 2000, and each sentinel is tuned at
start with `SENTINEL DEBUG` (not kept in its config file, so reapplied on every start):
INFO every 1 s and hello messages every 0.5 s, so that a promotion, the sentinels' agreement
and the conversion of a restarted old primary into a replica take seconds, not the default
tens of seconds; and TILT only after a 30 s timer stall, so that a loaded 2-core machine
does not freeze the sentinels for 30 s in the middle of a test. (At 1000 ms, a primary
under a full CI run's load once missed a second of pings and was failed over a second
time in the middle of a test.)
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.sentinel import Sentinel

from tests.servers.polling import wait_for
from tests.servers.process import HOST, ServerProcess, ServerStartError

SERVICE_NAME = "cq-primary"
_SENTINEL_DEBUG = ("info-period", 1000, "publish-period", 500, "tilt-trigger", 30000)


@dataclass(frozen=True)
class SentinelAuth:
    """Credentials for the data nodes and for the sentinels; None leaves that side open.
    With a user name, the `default` user is switched off and the named user gets
    every permission; with only a password, it is `requirepass`."""

    data_user: str | None = None
    data_password: str | None = None
    sentinel_user: str | None = None
    sentinel_password: str | None = None

    def data_client_kwargs(self) -> dict[str, Any]:
        return _credentials(self.data_user, self.data_password)

    def sentinel_client_kwargs(self) -> dict[str, Any]:
        return _credentials(self.sentinel_user, self.sentinel_password)


def _credentials(user: str | None, password: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs["username"] = user
    if password is not None:
        kwargs["password"] = password
    return kwargs


def _access_lines(user: str | None, password: str | None) -> list[str]:
    if password is None:
        return []
    if user is None:
        return [f"requirepass {password}"]
    return ["user default off", f"user {user} on >{password} ~* &* +@all"]


class SentinelGroup:
    def __init__(
        self,
        binary: Path,
        *,
        service_name: str = SERVICE_NAME,
        sentinels: int = 3,
        quorum: int = 2,
        down_after_ms: int = 2000,
        failover_timeout_ms: int = 2000,
        auth: SentinelAuth | None = None,
    ) -> None:
        self.binary = Path(binary)
        self.service_name = service_name
        self.auth = auth or SentinelAuth()
        self.dir = Path(tempfile.mkdtemp(prefix="cq-sentinel-"))
        self.primary = ServerProcess(
            self.binary, self.dir / "data-0", self._data_config(), client_kwargs=self._data_kw()
        )
        self.replica = ServerProcess(
            self.binary,
            self.dir / "data-1",
            [*self._data_config(), f"replicaof {HOST} {self.primary.port}"],
            client_kwargs=self._data_kw(),
        )
        self.data_nodes = [self.primary, self.replica]
        monitor = [
            f"sentinel monitor {service_name} {HOST} {self.primary.port} {quorum}",
            f"sentinel down-after-milliseconds {service_name} {down_after_ms}",
            f"sentinel failover-timeout {service_name} {failover_timeout_ms}",
            f"sentinel parallel-syncs {service_name} 1",
        ]
        self.sentinels = [
            ServerProcess(
                self.binary,
                self.dir / f"sentinel-{i}",
                [*monitor, *self._sentinel_access()],
                sentinel=True,
                client_kwargs=self.auth.sentinel_client_kwargs(),
            )
            for i in range(sentinels)
        ]

    def _data_kw(self) -> dict[str, Any]:
        return self.auth.data_client_kwargs()

    def _data_config(self) -> list[str]:
        auth = self.auth
        lines = _access_lines(auth.data_user, auth.data_password)
        if auth.data_user is not None:
            lines.append(f"masteruser {auth.data_user}")
        if auth.data_password is not None:
            lines.append(f"masterauth {auth.data_password}")
        return lines

    def _sentinel_access(self) -> list[str]:
        auth, name = self.auth, self.service_name
        lines = _access_lines(auth.sentinel_user, auth.sentinel_password)
        if auth.sentinel_user is not None:
            lines.append(f"sentinel sentinel-user {auth.sentinel_user}")
        if auth.sentinel_password is not None:
            lines.append(f"sentinel sentinel-pass {auth.sentinel_password}")
        if auth.data_user is not None:
            lines.append(f"sentinel auth-user {name} {auth.data_user}")
        if auth.data_password is not None:
            lines.append(f"sentinel auth-pass {name} {auth.data_password}")
        return lines

    # -- life cycle --------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        try:
            self.primary.start(timeout)
            self.replica.start(timeout)
            for sentinel in self.sentinels:
                sentinel.spawn()
            for sentinel in self.sentinels:
                sentinel.wait_started(timeout)
                self._tune(sentinel)
            self.wait_until_healthy(timeout)
        except AssertionError as exc:
            servers = [*self.data_nodes, *self.sentinels]
            logs = "\n".join(f"--- {s.describe()} ---\n{s.log_tail(15)}" for s in servers)
            self.stop()
            raise ServerStartError(
                f"{self.binary} sentinel group did not start: {exc}\n{logs}"
            ) from exc

    def _tune(self, sentinel: ServerProcess) -> None:
        with sentinel.client() as conn:
            conn.execute_command("SENTINEL", "DEBUG", *_SENTINEL_DEBUG)

    def stop(self) -> None:
        for server in [*self.sentinels, *self.data_nodes]:
            server.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- what the sentinels say --------------------------------------------------------

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [sentinel.address for sentinel in self.sentinels]

    def reported_primaries(self) -> list[tuple[str, int]]:
        """The primary address each live sentinel reports, in sentinel order."""
        answers = []
        for sentinel in self.sentinels:
            if sentinel.alive():
                with sentinel.client(decode_responses=True) as conn:
                    host, port = conn.execute_command(
                        "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service_name
                    )
                answers.append((host, int(port)))
        return answers

    def primary_address(self) -> tuple[str, int]:
        """The primary as most sentinels see it."""
        answers = Counter(self.reported_primaries())
        return answers.most_common(1)[0][0]

    def current_primary(self) -> ServerProcess:
        return self.server_at(self.primary_address())

    def server_at(self, address: tuple[str, int]) -> ServerProcess:
        for server in self.data_nodes:
            if server.address == address:
                return server
        raise KeyError(f"no data node at {address}")

    # -- faults --------------------------------------------------------------------------

    def kill_primary(self) -> ServerProcess:
        """SIGKILL the primary the sentinels currently name; returns it."""
        primary = self.current_primary()
        primary.kill()
        return primary

    def wait_for_failover(self, old: ServerProcess, timeout: float = 30.0) -> ServerProcess:
        """Wait until every live sentinel names one new primary and it says role:master."""

        def promoted() -> ServerProcess | None:
            answers = set(self.reported_primaries())
            if len(answers) != 1 or old.address in answers:
                return None
            new = self.server_at(answers.pop())
            with new.client(decode_responses=True) as conn:
                return new if conn.info("replication")["role"] == "master" else None

        result: ServerProcess = wait_for(
            f"the sentinels to promote a replica of port {old.port}", promoted, timeout
        )
        return result

    def restart(self, server: ServerProcess, timeout: float = 30.0) -> None:
        """Start a killed data node or sentinel again from its dir and wait until the group
        is healthy: a killed old primary comes back as a replica of the new one (the
        sentinels convert it, as in production)."""
        self._start_again(server, timeout)
        self._healthy_then_promotable(timeout)

    def heal(self, timeout: float = 30.0) -> None:
        for server in [*self.data_nodes, *self.sentinels]:
            if not server.alive():
                self._start_again(server, timeout)
        self._healthy_then_promotable(timeout)

    def _start_again(self, server: ServerProcess, timeout: float) -> None:
        """A data node comes back empty (no persistence) and claims to be a primary
        until the sentinels convert it: it must not be promoted before its first sync
        is done, or a second failover (the primary missing a 1 s ping on a loaded
        machine) would make it the primary and wipe the group. Replica priority 0
        keeps the sentinels from choosing it, until `_healthy_then_promotable`."""
        server.start(timeout)
        if server.sentinel:
            self._tune(server)
        else:
            with server.client() as conn:
                conn.config_set("replica-priority", 0)

    def _healthy_then_promotable(self, timeout: float) -> None:
        self.wait_until_healthy(timeout)  # every live replica in sync with the primary
        for server in self.data_nodes:
            if server.alive():
                with server.client() as conn:
                    conn.config_set("replica-priority", 100)

    def flush(self) -> None:
        with self.current_primary().client() as conn:
            conn.flushall()

    # -- health --------------------------------------------------------------------------

    def health_problem(self) -> str | None:
        """None when the live sentinels agree on a primary that says role:master, every
        other live data node replicates from it with its link up, and every sentinel sees
        all live replicas and all other live sentinels as up (ready for the next failover)."""
        answers = set(self.reported_primaries())
        if len(answers) != 1:
            return f"sentinels disagree on the primary: {answers}"
        primary = self.server_at(answers.pop())
        if not primary.alive():
            return f"the sentinels name port {primary.port}, which is down"
        for server in self.data_nodes:
            if not server.alive():
                continue
            with server.client(decode_responses=True) as conn:
                info = conn.info("replication")
            if server is primary and info["role"] != "master":
                return f"port {server.port} is named primary but is {info['role']}"
            if server is not primary and (
                info["role"] != "slave"
                or int(info["master_port"]) != primary.port
                or info["master_link_status"] != "up"
            ):
                return f"port {server.port} does not replicate from port {primary.port}: {info}"
        return self._sentinel_view_problem(primary)

    def _sentinel_view_problem(self, primary: ServerProcess) -> str | None:
        live_replicas = {s.port for s in self.data_nodes if s.alive() and s is not primary}
        live_sentinels = sum(s.alive() for s in self.sentinels)
        for sentinel in self.sentinels:
            if not sentinel.alive():
                continue
            with sentinel.client(decode_responses=True) as conn:
                replicas = conn.execute_command("SENTINEL", "REPLICAS", self.service_name)
                peers = conn.execute_command("SENTINEL", "SENTINELS", self.service_name)
            up = {int(r["port"]) for r in map(_pairs, replicas) if "s_down" not in r["flags"]}
            if not live_replicas <= up:
                return f"sentinel {sentinel.port} sees replicas up: {up}, not {live_replicas}"
            peers_up = [p for p in map(_pairs, peers) if "s_down" not in p["flags"]]
            if len(peers_up) < live_sentinels - 1:
                return f"sentinel {sentinel.port} knows {len(peers_up)} other sentinels"
        return None

    def wait_until_healthy(self, timeout: float = 30.0) -> None:
        wait_for("a healthy sentinel group", lambda: self.health_problem() is None, timeout)

    # -- clients ---------------------------------------------------------------------------

    def sentinel_client(self, **connection_kwargs: Any) -> Sentinel:
        """A redis-py `Sentinel` with the credentials both sides need."""
        kwargs: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 2}
        kwargs |= self.auth.data_client_kwargs() | connection_kwargs
        return Sentinel(
            self.sentinel_addresses,
            sentinel_kwargs={"socket_timeout": 5, **self.auth.sentinel_client_kwargs()},
            **kwargs,
        )


def _pairs(reply: Any) -> dict[str, str]:
    """SENTINEL REPLICAS/SENTINELS entries come as dicts (RESP3) or flat lists (RESP2)."""
    if isinstance(reply, dict):
        return {str(k): str(v) for k, v in reply.items()}
    items = [str(x) for x in reply]
    return dict(zip(items[::2], items[1::2], strict=True))
