"""The port allocator: ports reserved across processes (xdist workers), never handed
out twice, and kept out of the kernel's ephemeral range."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.servers import ports

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import sys, time
from tests.servers import ports
port = ports.free_port(with_cluster_bus=True)
print(port, flush=True)
time.sleep(60)
"""


def test_a_port_another_process_holds_is_not_handed_out() -> None:
    command = [sys.executable, "-c", HOLD]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT) as holder:
        try:
            assert holder.stdout is not None
            port = int(holder.stdout.readline())
            assert not ports._reserve(port)  # the other process holds it
            assert not ports._reserve(port + ports.CLUSTER_BUS_OFFSET)  # and its bus port
        finally:
            holder.kill()
    assert ports._reserve(port)  # the kernel dropped the lock with the process
    ports._release(port)


def test_ports_are_unique_free_and_below_the_ephemeral_range() -> None:
    low = ports._ephemeral_range()[0]
    given = [ports.free_port() for _ in range(50)]
    given += [ports.free_port(with_cluster_bus=True) for _ in range(20)]
    assert len(set(given)) == len(given)
    for port in given:
        assert port < low
        with socket.socket() as sock:
            sock.bind((ports.HOST, port))  # nothing listens there
    for port in given[50:]:
        assert port + ports.CLUSTER_BUS_OFFSET < low
        assert port + ports.CLUSTER_BUS_OFFSET in ports._held
