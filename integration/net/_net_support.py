"""Helpers of the ebpf.net integration tests: namespaces with a veth pair, programs, real traffic.

Each test gets two network namespaces of its own, ``a`` and ``b``, joined by
a veth pair (``va`` in ``a`` with 10.77.0.1, ``vb`` in ``b`` with
10.77.0.2). IPv6 is off and the neighbours are static, so the only packets
on the wire are the ones a test sends: counters can be exact.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ebpf import net
from ebpf.asm import (
    DW,
    R0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R10,
    B,
    Item,
    W,
    add,
    assemble,
    atomic_add,
    call,
    exit_,
    jeq,
    label,
    ld_map_fd,
    load,
    mov,
    mul,
    store,
)
from ebpf.progs import Program, ProgramSpec
from ebpf.syscall import FD, AttachType, MapType, ProgType, commands

NS_PREFIX = "ebpfnet-"
ADDR_A, ADDR_B = "10.77.0.1", "10.77.0.2"
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
# Payload byte the marking TC program rewrites: after Ethernet (14), IPv4 (20) and UDP (8) headers.
MARK_OFFSET = 14 + 20 + 8
SO_NO_CHECK = 11  # <asm-generic/socket.h>: send IPv4 UDP without a checksum


def ip(*args: str) -> str:
    """Run ``ip ...``; fail loudly."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def netns_names() -> set[str]:
    """The ``ip netns`` names of this machine that the tests use."""
    try:
        return {name for name in os.listdir("/run/netns") if name.startswith(NS_PREFIX)}
    except FileNotFoundError:
        return set()


@dataclass
class Pair:
    """Two namespaces joined by a veth pair."""

    a: str
    b: str
    va: str = "va"
    vb: str = "vb"

    def tc(self, ns: str, *args: str) -> None:
        """Run ``tc ...`` inside namespace ``ns``."""
        done = subprocess.run(
            ["ip", "netns", "exec", ns, "tc", *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"tc {' '.join(args)}: {done.stderr.strip()}")


_counter = iter(range(1_000_000))


def make_pair() -> Pair:
    """Create the namespaces and the veth pair (see the module's docstring)."""
    tag = f"{NS_PREFIX}{os.getpid()}-{next(_counter)}"
    pair = Pair(f"{tag}-a", f"{tag}-b")
    ip("netns", "add", pair.a)
    try:
        ip("netns", "add", pair.b)
        for ns in (pair.a, pair.b):
            for conf in ("all", "default"):
                subprocess.run(
                    ["ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{conf}.disable_ipv6=1"],
                    check=True,
                )
        ip("link", "add", pair.va, "netns", pair.a, "type", "veth", "peer", "name", pair.vb, "netns", pair.b)
        mac = {}
        for ns, dev, addr in ((pair.a, pair.va, ADDR_A), (pair.b, pair.vb, ADDR_B)):
            ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            mac[dev] = ip("-n", ns, "-br", "link", "show", dev).split()[2]
        ip(
            "-n",
            pair.a,
            "neigh",
            "replace",
            ADDR_B,
            "lladdr",
            mac[pair.vb],
            "dev",
            pair.va,
            "nud",
            "permanent",
        )
        ip(
            "-n",
            pair.b,
            "neigh",
            "replace",
            ADDR_A,
            "lladdr",
            mac[pair.va],
            "dev",
            pair.vb,
            "nud",
            "permanent",
        )
    except BaseException:
        delete_pair(pair)
        raise
    return pair


def delete_pair(pair: Pair) -> None:
    """Delete both namespaces (and with them the veth pair and everything attached)."""
    for ns in (pair.a, pair.b):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


# ------------------------------------------------------------------ programs


class Counters:
    """A u64 array map of ``n`` slots."""

    def __init__(self, n: int = 4) -> None:
        self.fd: FD = commands.map_create(MapType.ARRAY, 4, 8, n, name="net_counters")

    def __getitem__(self, slot: int) -> int:
        out = bytearray(8)
        commands.map_lookup_elem(self.fd, _U32.pack(slot), out)
        return int(_U64.unpack(out)[0])

    def close(self) -> None:
        self.fd.close()


def _count(counters: Counters, slot: int) -> list[Item]:
    """``counters[slot] += 1`` (clobbers r0-r5)."""
    skip = f"skip{slot}"
    return [
        store(R10, -4, slot, W),
        ld_map_fd(R1, counters.fd),
        mov(R2, R10),
        add(R2, -4),
        call("map_lookup_elem"),
        jeq(R0, 0, skip),
        mov(R1, 1),
        atomic_add(R0, 0, R1),
        label(skip),
    ]


def counting(
    prog_type: ProgType, verdict: int, counters: Counters, slot: int = 0, name: str = "counting"
) -> Program:
    """A program that counts each packet in ``counters[slot]`` and returns ``verdict``."""
    code = assemble([*_count(counters, slot), mov(R0, verdict), exit_()])
    return Program.load(ProgramSpec(name=name, type=prog_type, instructions=code))


def plain(
    prog_type: ProgType, verdict: int, name: str = "plain", attach: AttachType | None = None
) -> Program:
    """``return verdict``."""
    code = assemble([mov(R0, verdict), exit_()])
    return Program.load(
        ProgramSpec(name=name, type=prog_type, instructions=code, expected_attach_type=attach)
    )


def digit(counters: Counters, value: int, verdict: int, name: str) -> Program:
    """A SCHED_CLS program doing ``counters[0] = counters[0] * 10 + value``: shows the run order."""
    code = assemble(
        [
            store(R10, -4, 0, W),
            ld_map_fd(R1, counters.fd),
            mov(R2, R10),
            add(R2, -4),
            call("map_lookup_elem"),
            jeq(R0, 0, "out"),
            load(R1, R0, 0, DW),
            mul(R1, 10),
            add(R1, value),
            store(R0, 0, R1, DW),
            label("out"),
            mov(R0, verdict),
            exit_(),
        ]
    )
    return Program.load(ProgramSpec(name=name, type=ProgType.SCHED_CLS, instructions=code))


def marking(byte: int) -> Program:
    """A SCHED_CLS program that writes ``byte`` at :data:`MARK_OFFSET` of each packet and lets it go."""
    code = assemble(
        [
            mov(R6, R1),
            store(R10, -8, byte, B),
            mov(R1, R6),
            mov(R2, MARK_OFFSET),
            mov(R3, R10),
            add(R3, -8),
            mov(R4, 1),
            mov(R5, 0),
            call("skb_store_bytes"),
            mov(R0, 0),
            exit_(),
        ]
    )
    return Program.load(ProgramSpec(name="marking", type=ProgType.SCHED_CLS, instructions=code))


# ------------------------------------------------------------------- traffic


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(int(word) for word in struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ping(ns: str, dst: str, count: int = 1, timeout: float = 3.0) -> int:
    """Send ``count`` ICMP echo requests from namespace ``ns``; return how many were answered.

    ``timeout`` is per request: long by default, for the answers a test expects (the first one
    waits for ARP, slow on a loaded machine); tests that expect none pass a short one.
    """
    with net.in_netns(ns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    answered = 0
    ident = os.getpid() & 0xFFFF
    with sock:
        for seq in range(count):
            header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            payload = b"ebpf-net" * 4
            packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload
            sock.sendto(packet, (dst, 0))
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    data, (src, _) = sock.recvfrom(2048)
                except TimeoutError:
                    break
                ihl = (data[0] & 0x0F) * 4
                kind, _, _, rid, rseq = struct.unpack_from("!BBHHH", data, ihl)
                if src == dst and kind == 0 and (rid, rseq) == (ident, seq):
                    answered += 1
                    break
    return answered


@contextlib.contextmanager
def udp_receiver(ns: str, addr: str) -> Iterator[tuple[socket.socket, int]]:
    """A UDP socket bound in namespace ``ns``: ``(socket, port)``."""
    with net.in_netns(ns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        sock.bind((addr, 0))
        yield sock, sock.getsockname()[1]


def udp_sender(ns: str, *, no_checksum: bool = False) -> socket.socket:
    """A UDP socket of namespace ``ns``."""
    with net.in_netns(ns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if no_checksum:
        sock.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
    return sock


def drain(sock: socket.socket, timeout: float = 0.3) -> list[bytes]:
    """Every datagram that arrives until ``timeout`` passes without one."""
    got = []
    sock.settimeout(timeout)
    while True:
        try:
            got.append(sock.recv(2048))
        except TimeoutError:
            return got
