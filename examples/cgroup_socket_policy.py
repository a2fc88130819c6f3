"""Enforce a socket policy on a cgroup: no raw sockets, no UDP to blocked ports.

Shows: cgroup programs (``cgroup/sock_create`` and ``cgroup_skb/egress``)
attached with links to a fresh cgroup v2 directory; a child process moved
into the cgroup is refused what the policy forbids, while this process,
outside the cgroup, is not. Everything is removed on exit.

Run (as root): ``python examples/cgroup_socket_policy.py --port 9999``
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import ebpf.core as bpf
from ebpf.core.catalogue import example
from ebpf.syscall import system


def outcome(action: Callable[[], None]) -> str:
    """ "allowed", or the error the action raised."""
    try:
        action()
    except OSError as exc:
        return f"refused ({os.strerror(exc.errno or 0)})"
    return "allowed"


def raw_socket() -> None:
    """Open and close a raw ICMP socket."""
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()


def udp_to(port: int) -> Callable[[], None]:
    """An action sending one UDP datagram to 127.0.0.1:port."""

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"x", ("127.0.0.1", port))

    return send


def report(where: str, port: int) -> None:
    """Print what each action gives in this process."""
    for what, action in (
        ("raw socket", raw_socket),
        (f"UDP to port {port}", udp_to(port)),
        ("UDP to port 53", udp_to(53)),
    ):
        print(f"{where:<22} {what:<18} {outcome(action)}", flush=True)


def in_cgroup(cgroup: Path, fn: Callable[[], None]) -> None:
    """Run ``fn`` in a child process inside ``cgroup``."""
    sys.stdout.flush()  # or the child inherits, and prints again, what is still buffered
    pid = os.fork()
    if pid == 0:
        try:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))
            fn()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def main() -> None:
    """Create the cgroup, attach, compare inside and outside, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9999, help="the UDP port to block")
    args = parser.parse_args()
    root = system.cgroup2_path()
    if root is None:
        raise SystemExit("cgroup v2 is not mounted")
    cgroup = Path(tempfile.mkdtemp(prefix="ebpf-policy-", dir=root))
    try:
        with example("cgroup_sock_no_raw").load() as no_raw, example("cgroup_udp_port_block").load() as block:
            blocked = block.maps["blocked_ports"]
            assert isinstance(blocked, bpf.KeyValueMap)  # a hash map: element access
            blocked[args.port] = 1
            with bpf.attach(no_raw.program, cgroup), bpf.attach(block.program, cgroup):
                print(f"policy attached to {cgroup}")
                in_cgroup(cgroup, lambda: report("inside the cgroup", args.port))
                report("outside the cgroup", args.port)
    finally:
        cgroup.rmdir()


if __name__ == "__main__":
    main()
