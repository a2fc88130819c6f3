"""Count, then drop, packets with XDP on a veth pair between two network namespaces.

Shows: XDP programs from the catalogue attached with ``bpf.attach`` (a
bpf_link where the kernel has one), inside a network namespace
(``ebpf.net.in_netns``); real UDP traffic from the other namespace; reading a
counter map; swapping the attached program atomically with ``link.update``.
The namespaces (made with ``ip netns``) are removed on exit.

Run (as root): ``python examples/xdp_veth.py --packets 5``
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
from ebpf.net import in_netns

ADDR_A, ADDR_B, PORT = "10.78.0.1", "10.78.0.2", 7777


def ip(*args: str) -> None:
    """Run ``ip ARGS...``."""
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def veth_pair() -> Iterator[tuple[str, str]]:
    """Namespaces ``a`` and ``b`` joined by veth ``va`` (10.78.0.1) -- ``vb`` (10.78.0.2), removed after."""
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


def send_and_count(a: str, b: str, packets: int) -> int:
    """Send UDP datagrams from ``a`` to ``b``; how many arrived."""
    with in_netns(b):
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with in_netns(a):
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with receiver, sender:
        receiver.bind((ADDR_B, PORT))
        receiver.settimeout(0.5)
        for i in range(packets):
            sender.sendto(f"packet {i}".encode(), (ADDR_B, PORT))
        received = 0
        with contextlib.suppress(TimeoutError):
            while received < packets:
                receiver.recv(64)
                received += 1
    return received


def main() -> None:
    """Attach the counter, send; swap in the dropper, send again."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=5)
    args = parser.parse_args()
    counter, dropper = example("xdp_protocol_counter"), example("xdp_udp_port_filter")
    with veth_pair() as (a, b), counter.load() as counting, dropper.load() as dropping:
        blocked, protocols = dropping.maps["blocked_ports"], counting.maps["protocols"]
        assert isinstance(blocked, bpf.KeyValueMap)  # hash maps: element access
        assert isinstance(protocols, bpf.KeyValueMap)
        blocked[PORT] = 1
        with in_netns(b):
            link = bpf.attach(counting.program, "vb")
        with link:
            received = send_and_count(a, b, args.packets)
            counted = protocols[socket.IPPROTO_UDP]
            print(f"counter on vb: sent {args.packets} UDP datagrams, received {received}, counted {counted}")
            link.update(dropping.program)
            received = send_and_count(a, b, args.packets)
            print(f"dropper on vb (port {PORT} blocked): sent {args.packets}, received {received}")
    print("detached; namespaces removed")


if __name__ == "__main__":
    main()
