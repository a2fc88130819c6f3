"""Filter what an interface sends with a TC classifier: UDP to a blocked port never leaves.

Shows: a TC (``sched_cls``) program from the catalogue attached to the
egress of an interface with ``ebpf.net.attach_tc`` (TCX on Linux 6.6+, else
a ``clsact`` qdisc and a ``cls_bpf`` filter, removed again on close), inside
a network namespace; real UDP traffic to a blocked and an allowed port.
The namespaces (made with ``ip netns``) are removed on exit.

Run (as root): ``python examples/tc_egress_filter.py --port 7777``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator

import ebpf.core as bpf
from ebpf.core.catalogue import example
from ebpf.net import Direction, in_netns

ADDR_A, ADDR_B = "10.79.0.1", "10.79.0.2"
BLOCKED, ALLOWED = 7777, 7778


def ip(*args: str) -> None:
    """Run ``ip ARGS...``."""
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def veth_pair() -> Iterator[tuple[str, str]]:
    """Namespaces ``a`` and ``b`` joined by veth ``va`` (10.79.0.1) -- ``vb`` (10.79.0.2), removed after."""
    a, b = f"ebpfex-a-{os.getpid()}", f"ebpfex-b-{os.getpid()}"
    try:
        ip("netns", "add", a)
        ip("netns", "add", b)
        ip("link", "add", "va", "netns", a, "type", "veth", "peer", "name", "vb", "netns", b)
        for ns, dev, addr in ((a, "va", ADDR_A), (b, "vb", ADDR_B)):
            ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def send_and_count(a: str, b: str, port: int, packets: int) -> int:
    """Send UDP datagrams from ``a`` to ``b``:``port``; how many arrived."""
    with in_netns(b):
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with in_netns(a):
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with receiver, sender:
        receiver.bind((ADDR_B, port))
        receiver.settimeout(0.5)
        for i in range(packets):
            sender.sendto(f"packet {i}".encode(), (ADDR_B, port))
        received = 0
        with contextlib.suppress(TimeoutError):
            while received < packets:
                receiver.recv(64)
                received += 1
    return received


def main() -> None:
    """Attach the filter to va's egress and send to both ports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=BLOCKED, help="the UDP port to block")
    parser.add_argument("--packets", type=int, default=5)
    args = parser.parse_args()
    other = ALLOWED if args.port != ALLOWED else BLOCKED
    with veth_pair() as (a, b), example("tc_udp_port_filter").load() as flt:
        blocked = flt.maps["blocked_ports"]
        assert isinstance(blocked, bpf.KeyValueMap)  # a hash map: element access
        blocked[args.port] = 1
        with in_netns(a):
            link = bpf.attach_tc(flt.program, "va", Direction.EGRESS)
        with link:
            print(f"filter on va egress ({link.info().mechanism})")
            for port in (args.port, other):
                received = send_and_count(a, b, port, args.packets)
                print(f"UDP to port {port}: sent {args.packets}, received {received}")
    print("detached; namespaces removed")


if __name__ == "__main__":
    main()
