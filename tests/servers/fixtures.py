"""pytest fixtures for the production-topology servers (registered in tests/conftest.py).

Clusters, Sentinel groups and TLS servers are costly to start, so one of each kind lives
for the whole session in `server_pool`, started on first use. The fixtures tests use are
function-scoped views of them: before each test they *heal* the group (restart what an
earlier test killed, close a half-done slot migration, wait until the topology is healthy)
and flush its data, so a test may SIGKILL anything. Roles are not restored: after a
failover the old master stays a replica, so tests ask the group who is master.

Parametrize with `indirect=True`:
    @pytest.mark.parametrize("redis_cluster", ["redis", "valkey"], indirect=True)
    @pytest.mark.parametrize("sentinel_group", [SentinelSpec(auth=...)], indirect=True)
    @pytest.mark.parametrize("tls_server", ["optional"], indirect=True)
    @pytest.mark.parametrize("acl_server", [AclSpec(users={...})], indirect=True)
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.servers.acl import AclServer, AclSpec
from tests.servers.binaries import BinaryName, server_binary
from tests.servers.cluster import Cluster
from tests.servers.sentinel import SentinelAuth, SentinelGroup
from tests.servers.tls import AuthClients, TlsFiles, TlsServer, make_tls_files


@dataclass(frozen=True)
class SentinelSpec:
    binary: BinaryName = "redis"
    auth: SentinelAuth | None = None


class _Stoppable(Protocol):
    def stop(self) -> None: ...


class ServerPool:
    """Session-long server groups by kind, each started once; a group that failed to
    start fails every test that asks for it with the same message, without retrying."""

    def __init__(self) -> None:
        self._started: dict[object, _Stoppable] = {}
        self._failed: dict[object, AssertionError] = {}
        self._tls_dir = Path(tempfile.mkdtemp(prefix="cq-certs-"))
        self._tls_files: TlsFiles | None = None

    def _get(self, key: object, make: Callable[[], Any]) -> Any:
        if key in self._failed:
            raise self._failed[key]
        if key not in self._started:
            try:
                self._started[key] = make()
            except AssertionError as exc:
                self._failed[key] = exc
                raise
        return self._started[key]

    def cluster(self, binary: BinaryName = "redis") -> Cluster:
        def make() -> Cluster:
            cluster = Cluster(server_binary(binary))
            cluster.start()
            return cluster

        result: Cluster = self._get(("cluster", binary), make)
        return result

    def sentinel(self, spec: SentinelSpec = SentinelSpec()) -> SentinelGroup:
        def make() -> SentinelGroup:
            group = SentinelGroup(server_binary(spec.binary), auth=spec.auth)
            group.start()
            return group

        result: SentinelGroup = self._get(("sentinel", spec), make)
        return result

    @property
    def tls_files(self) -> TlsFiles:
        if self._tls_files is None:
            self._tls_files = make_tls_files(self._tls_dir)
        return self._tls_files

    def tls(self, auth_clients: AuthClients = "yes") -> TlsServer:
        def make() -> TlsServer:
            server = TlsServer(server_binary("redis"), self.tls_files, auth_clients)
            try:
                server.start()
            except AssertionError:
                server.stop()
                raise
            return server

        result: TlsServer = self._get(("tls", auth_clients), make)
        return result

    def close(self) -> None:
        for group in self._started.values():
            group.stop()
        self._started.clear()
        shutil.rmtree(self._tls_dir, ignore_errors=True)


def _param(request: pytest.FixtureRequest, default: Any) -> Any:
    return getattr(request, "param", default)


@pytest.fixture(scope="session")
def server_pool() -> Iterator[ServerPool]:
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def redis_cluster(request: pytest.FixtureRequest, server_pool: ServerPool) -> Cluster:
    """A healed, empty 3x2 cluster of redis-server (or the binary given by indirect param)."""
    cluster = server_pool.cluster(_param(request, "redis"))
    cluster.heal()
    cluster.flush()
    return cluster


@pytest.fixture
def valkey_cluster(server_pool: ServerPool) -> Cluster:
    """A healed, empty 3x2 cluster of Valkey."""
    cluster = server_pool.cluster("valkey")
    cluster.heal()
    cluster.flush()
    return cluster


@pytest.fixture
def sentinel_group(request: pytest.FixtureRequest, server_pool: ServerPool) -> SentinelGroup:
    """A healed, empty primary + replica + 3 sentinels (indirect param: a SentinelSpec)."""
    group = server_pool.sentinel(_param(request, SentinelSpec()))
    group.heal()
    group.flush()
    return group


@pytest.fixture
def tls_files(server_pool: ServerPool) -> TlsFiles:
    """The session's CA, server/client certificates and the unrelated "wrong" CA."""
    return server_pool.tls_files


@pytest.fixture
def tls_server(request: pytest.FixtureRequest, server_pool: ServerPool) -> TlsServer:
    """An empty TLS-only redis-server; indirect param: tls-auth-clients yes|optional|no."""
    server = server_pool.tls(_param(request, "yes"))
    if not server.server.alive():
        server.start()  # a test killed it: same port, same certificates
    with server.client() as conn:
        conn.flushall()
    return server


@pytest.fixture
def acl_server(request: pytest.FixtureRequest) -> Iterator[AclServer]:
    """A fresh redis-server with ACL users; indirect param: an AclSpec or {user: rules}.
    Cheap (~50 ms), so each test gets its own with exactly its rules."""
    given: AclSpec | Mapping[str, str] = _param(request, AclSpec())
    spec = given if isinstance(given, AclSpec) else AclSpec(users=dict(given))
    server = AclServer(server_binary(spec.binary), spec)
    try:
        server.start()
        yield server
    finally:
        server.stop()
