"""A real Redis Cluster: 3 masters with one replica each, in a temp dir of its own.

It is assembled with plain cluster commands (SET-CONFIG-EPOCH, ADDSLOTSRANGE, MEET,
REPLICATE) rather than `redis-cli --cluster create`: that works for both binaries with no
valkey-cli, and skips redis-cli's fixed waits, so a cluster is up in about 2.5 s (the rest
is the server's own 2 s "writable delay" after boot). `cluster-node-timeout` is 1000 ms and
`cluster-replica-validity-factor 0`, so a replica always takes over a SIGKILLed master,
in about 2-3 s.

The topology is read from the servers (CLUSTER NODES) on every call, never cached: after a
failover the roles are whatever the cluster says they are.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

from tests.servers.polling import wait_for
from tests.servers.process import HOST, ServerProcess, ServerStartError

SLOTS = 16384
NODE_TIMEOUT_MS = 1000
_CONFIG = [
    "cluster-enabled yes",
    "cluster-config-file nodes.conf",
    f"cluster-node-timeout {NODE_TIMEOUT_MS}",
    "cluster-replica-validity-factor 0",
    "cluster-require-full-coverage yes",
    "cluster-allow-replica-migration no",
]


class ClusterError(AssertionError):
    """The cluster is not in a shape an operation needs (no replica, no owner)."""


@dataclass(frozen=True)
class NodeView:
    """One line of CLUSTER NODES, as one node sees another."""

    node_id: str
    port: int
    flags: frozenset[str]
    master_id: str | None
    slots: tuple[tuple[int, int], ...]
    migrating: bool  # an open [slot->-id] or [slot-<-id] entry

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def failing(self) -> bool:
        return bool({"fail", "fail?", "handshake", "noaddr"} & self.flags)

    def owns(self, slot: int) -> bool:
        return any(low <= slot <= high for low, high in self.slots)


def parse_cluster_nodes(text: str) -> list[NodeView]:
    views = []
    for line in text.strip().splitlines():
        fields = line.split()
        address = fields[1].split("@")[0]
        flags = frozenset(fields[2].split(",")) - {"myself"}
        slots: list[tuple[int, int]] = []
        migrating = False
        for item in fields[8:]:
            if item.startswith("["):
                migrating = True
                continue
            low, _, high = item.partition("-")
            slots.append((int(low), int(high or low)))
        views.append(
            NodeView(
                node_id=fields[0],
                port=int(address.rsplit(":", 1)[1] or 0),
                flags=flags,
                master_id=None if fields[3] == "-" else fields[3],
                slots=tuple(slots),
                migrating=migrating,
            )
        )
    return views


def _slot_ranges(masters: int) -> list[tuple[int, int]]:
    bounds = [SLOTS * i // masters for i in range(masters + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(masters)]


class Cluster:
    """`masters` masters with `replicas` replicas each, on free ports under one temp dir."""

    def __init__(self, binary: Path, *, masters: int = 3, replicas: int = 1) -> None:
        self.binary = Path(binary)
        self.master_count = masters
        self.dir = Path(tempfile.mkdtemp(prefix="cq-cluster-"))
        count = masters * (1 + replicas)
        self.servers = [
            ServerProcess(self.binary, self.dir / f"node-{i}", _CONFIG, cluster_bus=True)
            for i in range(count)
        ]
        self._ids: dict[int, str] = {}  # port -> node id; a node keeps its id for life

    # -- building ----------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        started = time.monotonic()
        try:
            for server in self.servers:
                server.spawn()
            for server in self.servers:
                server.wait_started(timeout)
            self._assemble()
            self.wait_until_healthy(max(5.0, timeout - (time.monotonic() - started)))
        except AssertionError as exc:
            logs = "\n".join(f"--- {s.describe()} ---\n{s.log_tail(15)}" for s in self.servers)
            self.stop()
            raise ServerStartError(f"{self.binary} cluster did not start: {exc}\n{logs}") from exc

    def _assemble(self) -> None:
        masters = self.servers[: self.master_count]
        replicas = self.servers[self.master_count :]
        for epoch, server in enumerate(self.servers, start=1):
            with server.client(decode_responses=True) as conn:
                self._ids[server.port] = conn.execute_command("CLUSTER", "MYID")
                conn.execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
        for server, (low, high) in zip(masters, _slot_ranges(self.master_count), strict=True):
            with server.client() as conn:
                conn.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
        with self.servers[0].client() as conn:
            for other in self.servers[1:]:
                conn.execute_command("CLUSTER", "MEET", HOST, other.port)
        wait_for("every node to know every other", self._all_met, timeout=15)
        for index, replica in enumerate(replicas):
            master = masters[index % self.master_count]
            with replica.client() as conn:
                conn.execute_command("CLUSTER", "REPLICATE", self._ids[master.port])

    def _all_met(self) -> bool:
        for server in self.servers:
            views = self.view(server)
            if len(views) != len(self.servers) or any(v.failing for v in views):
                return False
        return True

    # -- reading the topology ------------------------------------------------------------

    def node_id(self, server: ServerProcess) -> str:
        return self._ids[server.port]

    def server_by_id(self, node_id: str) -> ServerProcess:
        for server in self.servers:
            if self._ids.get(server.port) == node_id:
                return server
        raise KeyError(f"no node with id {node_id}")

    def alive(self) -> list[ServerProcess]:
        return [server for server in self.servers if server.alive()]

    def view(self, server: ServerProcess | None = None) -> list[NodeView]:
        """CLUSTER NODES as `server` (default: the first live node) sees it."""
        server = server or self.alive()[0]
        with server.client(decode_responses=True) as conn:
            return parse_cluster_nodes(conn.execute_command("CLUSTER", "NODES"))

    def masters(self) -> list[ServerProcess]:
        """The live masters that hold slots, in slot order."""
        views = sorted((v for v in self.view() if v.is_master and v.slots), key=lambda v: v.slots)
        return [self.server_by_id(v.node_id) for v in views if not v.failing]

    def replicas(self) -> list[ServerProcess]:
        views = self.view()
        return [self.server_by_id(v.node_id) for v in views if not v.is_master and not v.failing]

    def replicas_of(self, master: ServerProcess) -> list[ServerProcess]:
        master_id = self.node_id(master)
        views = self.view()
        return [self.server_by_id(v.node_id) for v in views if v.master_id == master_id]

    def owner_of_slot(self, slot: int, seen_by: ServerProcess | None = None) -> ServerProcess:
        for view in self.view(seen_by):
            if view.is_master and view.owns(slot):
                return self.server_by_id(view.node_id)
        raise ClusterError(f"no master owns slot {slot}")

    @staticmethod
    def slot_of(key: str | bytes) -> int:
        return int(key_slot(key.encode() if isinstance(key, str) else key))

    def owner_of_key(self, key: str | bytes) -> ServerProcess:
        return self.owner_of_slot(self.slot_of(key))

    # -- clients -------------------------------------------------------------------------

    @property
    def startup_nodes(self) -> list[ClusterNode]:
        return [ClusterNode(HOST, server.port) for server in self.servers]

    @property
    def url(self) -> str:
        """A `redis://` URL of one live node: enough for a cluster client to find the rest."""
        return self.alive()[0].url

    def client(self, **kwargs: Any) -> RedisCluster:
        live = [ClusterNode(HOST, server.port) for server in self.alive()]
        return RedisCluster(startup_nodes=live, **kwargs)

    # -- health --------------------------------------------------------------------------

    def health_problem(self) -> str | None:
        """Why the cluster is not fully healthy, or None: every live node says
        cluster_state:ok, agrees who owns which slot, sees no live node failing, has no
        open migration, and every live replica's link to its master is up."""
        live = self.alive()
        live_ids = {self._ids[server.port] for server in live}
        owners: set[tuple[tuple[int, int], str]] | None = None
        for server in live:
            with server.client(decode_responses=True) as conn:
                info = conn.execute_command("CLUSTER", "INFO")
                if "cluster_state:ok" not in info:
                    return f"port {server.port}: not cluster_state:ok"
                replication = conn.info("replication")
            views = self.view(server)
            if any(v.failing for v in views if v.node_id in live_ids):
                return f"port {server.port} sees a live node failing: {views}"
            if any(v.migrating for v in views):
                return f"port {server.port} has an open slot migration"
            seen = {(r, v.node_id) for v in views if v.is_master for r in v.slots}
            if owners is not None and seen != owners:
                return f"port {server.port} disagrees on slot owners"
            owners = seen
            if replication["role"] == "slave" and replication["master_link_status"] != "up":
                return f"port {server.port}: replica link to its master is down"
        return None

    def wait_until_healthy(self, timeout: float = 30.0) -> None:
        wait_for("a healthy cluster", lambda: self.health_problem() is None, timeout)

    # -- faults --------------------------------------------------------------------------

    def kill(self, server: ServerProcess) -> None:
        server.kill()

    def kill_master(self, master: ServerProcess, timeout: float = 30.0) -> ServerProcess:
        """SIGKILL `master` and wait until one of its replicas holds its slots, every live
        node agrees and says cluster_state:ok. Returns the promoted replica."""
        candidates = {self.node_id(r) for r in self.replicas_of(master)}
        if not candidates:
            raise ClusterError(f"master on port {master.port} has no replica to promote")
        slots = next(v.slots for v in self.view(master) if v.node_id == self.node_id(master))
        master.kill()

        def promoted() -> ServerProcess | None:
            if self.health_problem() is not None:
                return None
            for view in self.view():
                if view.node_id in candidates and view.is_master and view.slots == slots:
                    return self.server_by_id(view.node_id)
            return None

        new_master: ServerProcess = wait_for(
            f"a replica of port {master.port} to be promoted", promoted, timeout
        )
        return new_master

    def restart(self, server: ServerProcess, timeout: float = 30.0) -> None:
        """Start a killed node from its own dir (its nodes.conf) and wait until the cluster
        is healthy with it: a killed master comes back as a replica of its successor."""
        server.start(timeout)
        self.wait_until_healthy(timeout)

    def heal(self, timeout: float = 30.0) -> None:
        """Undo what an earlier test left: restart dead nodes, close open migrations."""
        for server in self.servers:
            if not server.alive():
                server.start(timeout)
        for view in self.view():
            if view.migrating:
                self._close_migrations()
                break
        self.wait_until_healthy(timeout)

    def _close_migrations(self) -> None:
        for server in self.masters():
            with server.client(decode_responses=True) as conn:
                for line in conn.execute_command("CLUSTER", "NODES").splitlines():
                    if "myself" not in line:
                        continue
                    for item in line.split()[8:]:
                        if item.startswith("["):
                            slot = int(item[1:].split("-")[0])
                            conn.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")

    def flush(self) -> None:
        for server in self.masters():
            with server.client() as conn:
                conn.flushall()

    # -- resharding ----------------------------------------------------------------------

    def migrate_slot(
        self, slot: int, target: ServerProcess, batch: int = 100, pause: float = 0.0
    ) -> int:
        """Move `slot` to master `target` live, the way redis-cli reshards: IMPORTING on the
        target, MIGRATING on the source, MIGRATE the keys in batches, then SETSLOT NODE on
        the target, the source and every other master. Clients meanwhile get ASK/MOVED
        redirections; `pause` seconds between batches keep the slot half-moved for longer.
        Returns how many keys moved."""
        source = self.owner_of_slot(slot)
        if source.port == target.port:
            return 0
        source_id, target_id = self.node_id(source), self.node_id(target)
        with target.client() as conn:
            conn.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        moved = 0
        with source.client() as conn:
            conn.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            while keys := conn.execute_command("CLUSTER", "GETKEYSINSLOT", slot, batch):
                conn.execute_command(
                    "MIGRATE", HOST, target.port, "", 0, 10000, "REPLACE", "KEYS", *keys
                )
                moved += len(keys)
                time.sleep(pause)
        others = [m for m in self.masters() if m.port not in (source.port, target.port)]
        for master in [target, source, *others]:
            with master.client() as conn:
                conn.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        wait_for(
            f"every node to see slot {slot} on port {target.port}",
            lambda: self._all_see_owner(slot, target),
            timeout=15,
        )
        return moved

    def _all_see_owner(self, slot: int, owner: ServerProcess) -> bool:
        return all(self.owner_of_slot(slot, s).port == owner.port for s in self.alive())

    # -- the end ---------------------------------------------------------------------------

    def stop(self) -> None:
        for server in self.servers:
            server.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def distinct_slot_keys(cluster: Cluster, count: int, prefix: str = "k") -> list[str]:
    """`count` keys whose slots belong to `count` different masters (count <= masters)."""
    found: dict[int, str] = {}
    owners = {cluster.node_id(m): m.port for m in cluster.masters()}
    views = [v for v in cluster.view() if v.node_id in owners]
    index = 0
    while len(found) < count:
        key = f"{prefix}{index}"
        slot = cluster.slot_of(key)
        port = next(owners[v.node_id] for v in views if v.owns(slot))
        found.setdefault(port, key)
        index += 1
    return list(found.values())
